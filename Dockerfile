# Images of the operator and its two workloads, from one build stage:
#   docker build --target manager  -t ghcr.io/kdp-io/streamprocessor-operator:v0.1.0 .
#   docker build --target producer -t ghcr.io/kdp-io/streamprocessor-producer:v0.1.0 .
#   docker build --target consumer -t ghcr.io/kdp-io/streamprocessor-consumer:v0.1.0 .
# Each is a static binary on distroless/static, running as a non-root user.
FROM golang:1.26 AS builder
ARG TARGETOS=linux
ARG TARGETARCH=amd64
WORKDIR /workspace
COPY go.mod go.sum ./
RUN go mod download
COPY api/ api/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY internal/ internal/
COPY workloads/ workloads/
RUN for b in manager producer consumer; do \
      CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -ldflags="-s -w" -o /out/$b ./cmd/$b || exit 1; \
    done

FROM gcr.io/distroless/static:nonroot AS manager
WORKDIR /
COPY --from=builder /out/manager /manager
USER 65532:65532
ENTRYPOINT ["/manager"]

FROM gcr.io/distroless/static:nonroot AS producer
COPY --from=builder /out/producer /producer
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/producer"]

FROM gcr.io/distroless/static:nonroot AS consumer
COPY --from=builder /out/consumer /consumer
USER 65532:65532
# /healthz, /readyz, /metrics (HTTP_ADDR)
EXPOSE 8080
ENTRYPOINT ["/consumer"]

# The default target is the operator.
FROM manager
