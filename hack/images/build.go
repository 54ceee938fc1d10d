package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// NonRootUID is the user (and group) every image runs as: distroless's
// "nonroot", so manifests written for the Dockerfile's images fit these too.
const NonRootUID = 65532

// Spec is one image: which command it runs and what it exposes.
type Spec struct {
	Name       string // command under ./cmd, and the binary's path in the image (/Name)
	Repository string // image repository name under a registry
	Title      string // org.opencontainers.image.title
	Ports      []string
}

// Specs are the three images of the project, by name.
var Specs = map[string]Spec{
	"manager":  {Name: "manager", Repository: "streamprocessor-operator", Title: "StreamProcessor operator"},
	"producer": {Name: "producer", Repository: "streamprocessor-producer", Title: "StreamProcessor producer", Ports: []string{"8080/tcp"}},
	"consumer": {Name: "consumer", Repository: "streamprocessor-consumer", Title: "StreamProcessor consumer", Ports: []string{"8080/tcp"}},
}

// Platform is an os/arch pair the binaries are cross-compiled for.
type Platform struct{ OS, Arch string }

func (p Platform) String() string { return p.OS + "/" + p.Arch }

// Options are the inputs of a build besides the sources.
type Options struct {
	Out       string // the image layout is written to Out/<name>
	Version   string
	Revision  string
	Source    string
	CACerts   string // host CA bundle, copied to /etc/ssl/certs/ca-certificates.crt
	Created   int64  // creation time and file times, seconds since the epoch
	Platforms []Platform
	// ModuleDir is where `go build` runs (the module root); "" = the current directory.
	ModuleDir string
}

// Built is the result of Build: an image index (one image per platform)
// written as an OCI image layout.
type Built struct {
	Index  v1.ImageIndex
	Digest v1.Hash // of the index
	Layout string  // directory of the OCI image layout
}

// Build cross-compiles spec's command for every platform and writes the
// multi-platform image to opts.Out/spec.Name, replacing what was there.
func Build(spec Spec, opts Options) (Built, error) {
	if len(opts.Platforms) == 0 {
		return Built{}, fmt.Errorf("build image %s: no platform", spec.Name)
	}
	certs, err := os.ReadFile(opts.CACerts)
	if err != nil {
		return Built{}, fmt.Errorf("build image %s: read CA certificates: %w", spec.Name, err)
	}
	tmp, err := os.MkdirTemp("", "images-")
	if err != nil {
		return Built{}, err
	}
	defer os.RemoveAll(tmp)

	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range opts.Platforms {
		bin := filepath.Join(tmp, p.OS+"-"+p.Arch, spec.Name)
		if err := goBuild(spec.Name, bin, p, opts); err != nil {
			return Built{}, err
		}
		img, err := image(spec, p, bin, certs, opts)
		if err != nil {
			return Built{}, fmt.Errorf("build image %s for %s: %w", spec.Name, p, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: p.OS, Architecture: p.Arch}},
		})
	}
	digest, err := idx.Digest()
	if err != nil {
		return Built{}, fmt.Errorf("digest of image %s: %w", spec.Name, err)
	}
	dir := filepath.Join(opts.Out, spec.Name)
	if err := os.RemoveAll(dir); err != nil {
		return Built{}, err
	}
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		return Built{}, fmt.Errorf("write image layout %s: %w", dir, err)
	}
	ref := spec.Repository + ":" + opts.Version
	if err := lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref})); err != nil {
		return Built{}, fmt.Errorf("write image layout %s: %w", dir, err)
	}
	return Built{Index: idx, Digest: digest, Layout: dir}, nil
}

// Push writes b's index and images to the registry reference ref, with
// credentials from the default keychain (~/.docker/config.json).
func Push(b Built, ref string) error {
	r, err := name.ParseReference(ref)
	if err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	if err := remote.WriteIndex(r, b.Index, remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	return nil
}

// goBuild writes a static binary of ./cmd/<cmd> for p to out. -trimpath and
// -buildvcs=false keep paths and the checkout's state out of it, so the same
// sources give the same bytes.
func goBuild(cmd, out string, p Platform, opts Options) error {
	c := exec.Command("go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags", "-s -w -buildid= -X main.version="+opts.Version,
		"-o", out, "./cmd/"+cmd)
	c.Dir = opts.ModuleDir
	c.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch, "GOFLAGS=-mod=readonly")
	if msg, err := c.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/%s for %s: %w\n%s", cmd, p, err, msg)
	}
	return nil
}

// image is one platform's image: a single layer over nothing.
func image(spec Spec, p Platform, bin string, certs []byte, opts Options) (v1.Image, error) {
	binary, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	layerTar, err := rootfs(spec.Name, binary, certs, time.Unix(opts.Created, 0).UTC())
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{
		Created:   v1.Time{Time: time.Unix(opts.Created, 0).UTC()},
		CreatedBy: "hack/images: /" + spec.Name + " (go build -trimpath), CA certificates, /etc/passwd",
	}})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = p.OS, p.Arch
	cf.Created = v1.Time{Time: time.Unix(opts.Created, 0).UTC()}
	cf.Config.User = fmt.Sprintf("%d:%d", NonRootUID, NonRootUID)
	cf.Config.Entrypoint = []string{"/" + spec.Name}
	cf.Config.WorkingDir = "/"
	cf.Config.Env = []string{"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"}
	cf.Config.Labels = map[string]string{
		"org.opencontainers.image.title":    spec.Title,
		"org.opencontainers.image.source":   opts.Source,
		"org.opencontainers.image.version":  opts.Version,
		"org.opencontainers.image.revision": opts.Revision,
		"org.opencontainers.image.licenses": "Apache-2.0",
	}
	if len(spec.Ports) > 0 {
		cf.Config.ExposedPorts = map[string]struct{}{}
		for _, port := range spec.Ports {
			cf.Config.ExposedPorts[port] = struct{}{}
		}
	}
	return mutate.ConfigFile(img, cf)
}

// rootfs is the layer's tar: the binary, CA certificates, passwd and group,
// and a home and /tmp for the non-root user. Entries are in a fixed order with
// fixed owners and times.
func rootfs(binName string, binary, certs []byte, mtime time.Time) ([]byte, error) {
	type entry struct {
		name  string
		mode  int64
		uid   int
		data  []byte
		isDir bool
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", NonRootUID, NonRootUID)
	group := fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", NonRootUID)
	entries := []entry{
		{name: "etc/", mode: 0o755, isDir: true},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		{name: "etc/ssl/", mode: 0o755, isDir: true},
		{name: "etc/ssl/certs/", mode: 0o755, isDir: true},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: certs},
		{name: "home/", mode: 0o755, isDir: true},
		{name: "home/nonroot/", mode: 0o700, uid: NonRootUID, isDir: true},
		{name: "tmp/", mode: 0o1777, isDir: true},
		{name: binName, mode: 0o755, data: binary},
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.uid, ModTime: mtime, Format: tar.FormatUSTAR}
		if e.isDir {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
