package devstack

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// ControlPlaneOptions configures RunControlPlane.
type ControlPlaneOptions struct {
	// AssetsDir holds the kube-apiserver and etcd binaries (the directory
	// hack/control-plane.sh prints). Required.
	AssetsDir string
	// CRDDir holds the CRD manifests to install once the API server is up
	// (config/crd/bases). Empty, missing, without manifests or rejected by the
	// API server: the control plane runs without CRDs and the log says why.
	CRDDir string
	// Kubeconfig is the file to write the admin credentials to. Required. It
	// is written once the control plane serves and removed when it stops.
	Kubeconfig string
	// ChildPIDFile, when set, receives the PIDs of etcd and kube-apiserver, one a
	// line, so a supervisor can stop them if this process dies without cleaning up.
	ChildPIDFile string
	// LogDir, when set, receives etcd.log and kube-apiserver.log; otherwise the
	// servers' output is discarded.
	LogDir string
	// User is the admin user's name; it is put in system:masters. Default "local-admin".
	User string
	// Log receives progress messages. Default: discard.
	Log logr.Logger
}

// contextName names the cluster, user and context in the written kubeconfig.
const contextName = "streamprocessor-local"

// RunControlPlane starts a real etcd and kube-apiserver through envtest, installs
// the CRDs found in opts.CRDDir (logging, not failing, when there are none or the
// API server rejects them), provisions an admin user in system:masters and
// writes its kubeconfig to opts.Kubeconfig. It then blocks until ctx is done and
// stops both servers, removing the kubeconfig and the child PID file, before it
// returns. The cluster's state lives in a temporary etcd directory and does not
// survive a restart.
//
// It returns nil after a clean stop; an error if the control plane could not
// start or did not stop cleanly.
func RunControlPlane(ctx context.Context, opts ControlPlaneOptions) (err error) {
	if opts.AssetsDir == "" || opts.Kubeconfig == "" {
		return errors.New("run control plane: the assets directory and the kubeconfig path are required")
	}
	if opts.User == "" {
		opts.User = "local-admin"
	}
	log := opts.Log
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(opts.AssetsDir, bin)); err != nil {
			return fmt.Errorf("run control plane: find %s in %s (build it with hack/control-plane.sh): %w", bin, opts.AssetsDir, err)
		}
	}

	env := &envtest.Environment{
		BinaryAssetsDirectory:    opts.AssetsDir,
		ControlPlaneStartTimeout: 90 * time.Second,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	if opts.LogDir != "" {
		closeLogs, err := attachLogs(env, opts.LogDir)
		if err != nil {
			return fmt.Errorf("run control plane: %w", err)
		}
		defer closeLogs()
	}

	start := time.Now()
	if _, err := env.Start(); err != nil {
		// Start can fail after a server is up; stop whatever did start.
		return errors.Join(fmt.Errorf("start control plane: %w", err), stopControlPlane(env))
	}
	defer func() {
		log.Info("Stopping control plane")
		err = errors.Join(err, stopControlPlane(env), removeIfExists(opts.Kubeconfig), removeIfExists(opts.ChildPIDFile))
		if err == nil {
			log.Info("Stopped control plane")
		}
	}()

	if opts.ChildPIDFile != "" {
		if err := writeChildPIDs(opts.ChildPIDFile); err != nil {
			return fmt.Errorf("run control plane: %w", err)
		}
	}
	admin, err := env.AddUser(envtest.User{Name: opts.User, Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("add admin user %q to control plane: %w", opts.User, err)
	}
	raw, err := admin.KubeConfig()
	if err != nil {
		return fmt.Errorf("render kubeconfig of user %q: %w", opts.User, err)
	}
	installed := installCRDs(env, opts.CRDDir, log)
	if err := writeKubeconfig(opts.Kubeconfig, raw, opts.User); err != nil {
		return err
	}
	log.Info("Control plane ready", "apiServer", admin.Config().Host, "kubeconfig", opts.Kubeconfig,
		"user", opts.User, "crds", installed, "startSeconds", time.Since(start).Round(100*time.Millisecond).Seconds())

	<-ctx.Done()
	return nil
}

// installCRDs installs the manifests in dir and waits until they are served.
// A missing directory or a CRD the API server rejects is logged, not fatal: the
// control plane is useful without them, and whoever applies the CRDs next
// (hack/local-up.sh with kubectl) gets the API server's message. Returns the
// number installed.
func installCRDs(env *envtest.Environment, dir string, log logr.Logger) int {
	files, why := crdManifests(dir)
	if len(files) == 0 {
		log.Info("Running without CRDs; apply them later with kubectl (hack/local-up.sh does)", "reason", why)
		return 0
	}
	crds, err := envtest.InstallCRDs(env.Config, envtest.CRDInstallOptions{
		Paths:              []string{dir},
		ErrorIfPathMissing: true,
		MaxTime:            60 * time.Second,
	})
	if err != nil {
		log.Error(err, "CRDs not installed; running without them", "dir", dir, "files", files)
		return 0
	}
	return len(crds)
}

func stopControlPlane(env *envtest.Environment) error {
	if err := env.Stop(); err != nil {
		return fmt.Errorf("stop control plane: %w", err)
	}
	return nil
}

// crdManifests lists the YAML or JSON files in dir, or says why there are none.
func crdManifests(dir string) ([]string, string) {
	if dir == "" {
		return nil, "no CRD directory given"
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Sprintf("cannot read CRD directory %s (generate it with `make manifests`): %v", dir, err)
	}
	var files []string
	for _, e := range entries {
		switch filepath.Ext(e.Name()) {
		case ".yaml", ".yml", ".json":
			if !e.IsDir() {
				files = append(files, e.Name())
			}
		}
	}
	if len(files) == 0 {
		return nil, fmt.Sprintf("no CRD manifests in %s (generate them with `make manifests`)", dir)
	}
	return files, ""
}

// attachLogs sends etcd's and kube-apiserver's output to files in dir and
// returns a function that closes them.
func attachLogs(env *envtest.Environment, dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create log directory %s: %w", dir, err)
	}
	open := func(name string) (*os.File, error) {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return nil, fmt.Errorf("open log file: %w", err)
		}
		return f, nil
	}
	etcdLog, err := open("etcd.log")
	if err != nil {
		return nil, err
	}
	apiLog, err := open("kube-apiserver.log")
	if err != nil {
		etcdLog.Close()
		return nil, err
	}
	env.ControlPlane.Etcd = &envtest.Etcd{Out: etcdLog, Err: etcdLog}
	api := env.ControlPlane.GetAPIServer()
	api.Out, api.Err = apiLog, apiLog
	return func() { etcdLog.Close(); apiLog.Close() }, nil
}

// writeKubeconfig renames envtest's generic names to contextName and writes
// the file atomically with owner-only permissions, as it holds a client key.
func writeKubeconfig(path string, raw []byte, user string) error {
	cfg, err := clientcmd.Load(raw)
	if err != nil {
		return fmt.Errorf("parse generated kubeconfig: %w", err)
	}
	cur := cfg.Contexts[cfg.CurrentContext]
	if cur == nil {
		return fmt.Errorf("parse generated kubeconfig: no current context %q", cfg.CurrentContext)
	}
	cluster, auth := cfg.Clusters[cur.Cluster], cfg.AuthInfos[cur.AuthInfo]
	cfg.Clusters = map[string]*clientcmdapi.Cluster{contextName: cluster}
	cfg.AuthInfos = map[string]*clientcmdapi.AuthInfo{user: auth}
	cur.Cluster, cur.AuthInfo, cur.Namespace = contextName, user, "default"
	cfg.Contexts = map[string]*clientcmdapi.Context{contextName: cur}
	cfg.CurrentContext = contextName
	out, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("render kubeconfig: %w", err)
	}
	if err := writeFileAtomic(path, out, 0o600); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}

// writeChildPIDs records the PIDs of this process's children: envtest starts
// etcd and kube-apiserver in their own process groups, so they outlive a
// SIGKILL of this process unless someone stops them by PID.
func writeChildPIDs(path string) error {
	tasks, err := filepath.Glob("/proc/self/task/*/children")
	if err != nil || len(tasks) == 0 {
		return fmt.Errorf("list child processes: /proc/self/task/*/children unavailable (%v)", err)
	}
	var pids []string
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue // the thread exited meanwhile
		}
		for _, f := range strings.Fields(string(b)) {
			if _, err := strconv.Atoi(f); err == nil {
				pids = append(pids, f)
			}
		}
	}
	if err := writeFileAtomic(path, []byte(strings.Join(pids, "\n")+"\n"), 0o644); err != nil {
		return fmt.Errorf("write child PIDs: %w", err)
	}
	return nil
}

func writeFileAtomic(path string, data []byte, perm fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func removeIfExists(path string) error {
	if path == "" {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}
