// Package awsapi is the project's one place for what every AWS adapter needs:
// AWS errors mapped to the few kinds a reconciler acts on, and a Prometheus
// count of every AWS call by service, operation and outcome.
package awsapi

import (
	"errors"
	"strings"

	"github.com/aws/smithy-go"
)

// Kind is what an AWS error means to a caller.
type Kind string

const (
	// KindNone: no error.
	KindNone Kind = ""
	// KindNotFound: the resource does not exist (or no longer does).
	KindNotFound Kind = "NotFound"
	// KindThrottled: the request rate was too high; retry later.
	KindThrottled Kind = "Throttled"
	// KindInUse: the resource is busy (a stream UPDATING); retry later.
	KindInUse Kind = "InUse"
	// KindLimit: an account or resource limit was reached (the reshard budget,
	// the shard quota); waiting, not retrying, is the answer.
	KindLimit Kind = "LimitExceeded"
	// KindInvalid: the request is wrong — usually a mistake in the spec (a
	// subnet that does not exist, a role that cannot be passed). Retrying the
	// same request will not help.
	KindInvalid Kind = "Invalid"
	// KindDenied: the caller may not do this — the credentials lack a
	// permission, or are expired or unknown. Only a change of IAM policy or
	// credentials helps; the resource may well exist.
	KindDenied Kind = "AccessDenied"
	// KindConflict: a conditional write lost (DynamoDB's condition failed):
	// someone else changed the item first.
	KindConflict Kind = "Conflict"
	// KindOther: anything else (network, server errors).
	KindOther Kind = "Other"
)

// errorKinds maps AWS error codes to kinds. Codes are the same in every SDK and
// protocol; the services' own docs list them per operation.
var errorKinds = map[string]Kind{
	// Not found
	"ResourceNotFoundException":       KindNotFound,
	"ServiceNotFoundException":        KindNotFound,
	"ServiceNotActiveException":       KindNotFound,
	"ClusterNotFoundException":        KindInvalid, // the spec names a cluster that does not exist
	"TargetNotFoundException":         KindNotFound,
	"NoSuchEntity":                    KindNotFound,
	"TargetGroupNotFound":             KindInvalid,
	"InvalidSubnetID.NotFound":        KindInvalid,
	"InvalidGroup.NotFound":           KindInvalid,
	"ResourceNotReadyException":       KindInUse,
	"ResourceInUseException":          KindInUse,
	"UpdateInProgressException":       KindInUse,
	"ConcurrentModificationException": KindInUse,
	"OperationAbortedException":       KindInUse, // CloudWatch Logs: a concurrent change of the same log group
	"ConditionalCheckFailedException": KindConflict,
	"TransactionConflictException":    KindConflict,
	// Limits and throttling
	"LimitExceededException":                 KindLimit,
	"ServiceQuotaExceededException":          KindLimit,
	"ThrottlingException":                    KindThrottled,
	"Throttling":                             KindThrottled,
	"ThrottledException":                     KindThrottled,
	"TooManyRequestsException":               KindThrottled,
	"RequestLimitExceeded":                   KindThrottled,
	"ProvisionedThroughputExceededException": KindThrottled,
	// Invalid requests
	"InvalidArgumentException":    KindInvalid,
	"InvalidParameterException":   KindInvalid,
	"InvalidParameterValue":       KindInvalid,
	"InvalidParameterCombination": KindInvalid,
	"InvalidParameterInput":       KindInvalid, // CloudWatch PutDashboard: an invalid body
	"ValidationException":         KindInvalid,
	"ValidationError":             KindInvalid,
	"ClientException":             KindInvalid,
	// Permissions and credentials
	"AccessDeniedException":                          KindDenied,
	"AccessDenied":                                   KindDenied,
	"UnauthorizedOperation":                          KindDenied,
	"KMSAccessDeniedException":                       KindDenied,
	"ExpiredToken":                                   KindDenied,
	"ExpiredTokenException":                          KindDenied,
	"UnrecognizedClientException":                    KindDenied,
	"InvalidClientTokenId":                           KindDenied,
	"InvalidSignatureException":                      KindDenied,
	"SignatureDoesNotMatch":                          KindDenied,
	"MissingAuthenticationToken":                     KindDenied,
	"PlatformUnknownException":                       KindInvalid,
	"PlatformTaskDefinitionIncompatibilityException": KindInvalid,
	"KMSDisabledException":                           KindInvalid,
	"KMSInvalidStateException":                       KindInvalid,
	"KMSNotFoundException":                           KindInvalid,
	"KMSOptInRequired":                               KindInvalid,
	"KMSThrottlingException":                         KindThrottled,
}

// Classify returns the kind of err. Errors that are not AWS API errors
// (network failures, cancelled contexts) are KindOther.
func Classify(err error) Kind {
	if err == nil {
		return KindNone
	}
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return KindOther
	}
	if k, ok := errorKinds[apiErr.ErrorCode()]; ok {
		return k
	}
	if strings.HasSuffix(apiErr.ErrorCode(), "NotFoundException") || strings.HasSuffix(apiErr.ErrorCode(), ".NotFound") {
		return KindNotFound
	}
	return KindOther
}

// Is reports whether err is of kind k.
func Is(err error, k Kind) bool { return Classify(err) == k }

// Message returns the AWS error's own message (without request ids), or the
// error's text when it is not an AWS API error — short enough for a condition.
func Message(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		if msg := apiErr.ErrorMessage(); msg != "" {
			return apiErr.ErrorCode() + ": " + msg
		}
		return apiErr.ErrorCode()
	}
	return err.Error()
}

// Code returns the AWS error code of err ("ClusterNotFoundException"), or ""
// when err is not an AWS API error. For the rare caller that must tell apart
// two codes of one kind.
func Code(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}
