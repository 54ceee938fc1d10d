// Package kubectlsp is the kubectl plugin `kubectl sp` (cmd/kubectl-sp): it
// reads and steers StreamProcessors through the API server with kubectl's
// usual flags. It changes only the spec (pause, dry run, pinned counts);
// the operator does the rest.
package kubectlsp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	"github.com/kdp-io/streamprocessor-operator/internal/override"
)

const usage = `kubectl sp — see and steer StreamProcessors (streaming.kdp.io/v1alpha1).

Usage:
  kubectl sp status NAME [-o json|yaml]   stream, shards, tasks, last decision, reshard budget, conditions, recent events
  kubectl sp pause NAME                   freeze shard and task counts (spec.scaling.paused=true)
  kubectl sp resume NAME                  let the scaler act again (spec.scaling.paused=false)
  kubectl sp dry-run NAME on|off          report targets without acting (spec.scaling.dryRun)
  kubectl sp history NAME                 the reshard ledger, the last decision and the events, oldest first
  kubectl sp scale NAME [--shards N] [--producer-tasks N] [--consumer-tasks N] [--for DURATION]
                                          pin counts within the spec's bounds (minShards=maxShards=N,
                                          minTasks=maxTasks=N); the bounds come back after DURATION, or with --reset
  kubectl sp scale NAME --reset           lift the pins now
  kubectl sp top [-A] [-o json|yaml]      one line per StreamProcessor: shards, tasks, rates, lag, cost per hour

Flags:
`

// CLI runs one command against the API server.
type CLI struct {
	Client client.Client
	// Namespace of the command (from -n or the kubeconfig context).
	Namespace string
	// AllNamespaces: top lists every namespace (-A).
	AllNamespaces bool
	// Output is "" (text), "json" or "yaml" (status only).
	Output string
	Out    io.Writer
	Now    func() time.Time
}

// Scheme returns the types the plugin reads.
func Scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	return s, errors.Join(streamingv1alpha1.AddToScheme(s), eventsv1.AddToScheme(s), corev1.AddToScheme(s))
}

// Main runs `kubectl sp` with args (without the program name) and returns
// the exit code: 0 done, 1 the command failed, 2 the command line is wrong.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("kubectl-sp", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	loading := clientcmd.NewDefaultClientConfigLoadingRules()
	fs.StringVar(&loading.ExplicitPath, "kubeconfig", "", "Path to the kubeconfig file (default: $KUBECONFIG or ~/.kube/config).")
	overrides := &clientcmd.ConfigOverrides{}
	clientcmd.BindOverrideFlags(overrides, fs, clientcmd.RecommendedConfigOverrideFlags(""))
	all := fs.BoolP("all-namespaces", "A", false, "top: list StreamProcessors of every namespace.")
	output := fs.StringP("output", "o", "", "status, top: print the object(s) as json or yaml.")
	shards := fs.Int32("shards", 0, "scale: the shard count to pin.")
	producerTasks := fs.Int32("producer-tasks", 0, "scale: the producer task count to pin.")
	consumerTasks := fs.Int32("consumer-tasks", 0, "scale: the consumer task count to pin.")
	forDur := fs.Duration("for", 0, "scale: how long the pin lasts (e.g. 30m, 2h); default until --reset.")
	reset := fs.Bool("reset", false, "scale: lift the pin now.")
	help := fs.BoolP("help", "h", false, "Show this help.")
	fs.Usage = func() { fmt.Fprint(stderr, usage+fs.FlagUsages()) }
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *help || fs.NArg() == 0 {
		fs.Usage()
		if *help {
			return 0
		}
		return 2
	}
	verb, rest := fs.Arg(0), fs.Args()[1:]
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "error: "+format+"\nRun 'kubectl sp --help' for usage.\n", a...)
		return 2
	}
	wantArgs := map[string]int{"status": 1, "pause": 1, "resume": 1, "history": 1, "scale": 1, "dry-run": 2, "top": 0}
	n, known := wantArgs[verb]
	switch {
	case !known:
		return usageErr("unknown command %q", verb)
	case len(rest) != n && n == 0:
		return usageErr("%s takes no NAME", verb)
	case len(rest) != n && verb == "dry-run":
		return usageErr("dry-run needs NAME and on or off")
	case len(rest) != n:
		return usageErr("%s needs exactly one NAME", verb)
	}
	for flag, verbs := range map[string][]string{"shards": {"scale"}, "producer-tasks": {"scale"}, "consumer-tasks": {"scale"}, "for": {"scale"}, "reset": {"scale"}, "output": {"status", "top"}, "all-namespaces": {"top"}} {
		if fs.Changed(flag) && !slices.Contains(verbs, verb) {
			return usageErr("--%s applies to %s only", flag, strings.Join(verbs, ", "))
		}
	}
	if *output != "" && *output != "json" && *output != "yaml" {
		return usageErr("--output must be json or yaml, not %q", *output)
	}

	clientConfig := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(loading, overrides)
	ns, _, err := clientConfig.Namespace()
	if err != nil {
		fmt.Fprintf(stderr, "error: read the namespace from the kubeconfig: %v\n", err)
		return 1
	}
	cfg, err := clientConfig.ClientConfig()
	if err != nil {
		fmt.Fprintf(stderr, "error: load the kubeconfig: %v\n", err)
		return 1
	}
	scheme, err := Scheme()
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 1
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		fmt.Fprintf(stderr, "error: connect to the API server: %v\n", err)
		return 1
	}
	cli := &CLI{Client: c, Namespace: ns, AllNamespaces: *all, Output: *output, Out: stdout, Now: time.Now}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	switch verb {
	case "status":
		err = cli.Status(ctx, rest[0])
	case "pause":
		err = cli.SetPaused(ctx, rest[0], true)
	case "resume":
		err = cli.SetPaused(ctx, rest[0], false)
	case "dry-run":
		switch rest[1] {
		case "on", "off":
			err = cli.SetDryRun(ctx, rest[0], rest[1] == "on")
		default:
			return usageErr("dry-run takes on or off, not %q", rest[1])
		}
	case "history":
		err = cli.History(ctx, rest[0])
	case "scale":
		var req override.Request
		if fs.Changed("shards") {
			req.Shards = shards
		}
		if fs.Changed("producer-tasks") {
			req.ProducerTasks = producerTasks
		}
		if fs.Changed("consumer-tasks") {
			req.ConsumerTasks = consumerTasks
		}
		pins := req != (override.Request{})
		switch {
		case *reset && (pins || fs.Changed("for")):
			return usageErr("--reset goes alone: it lifts the pins")
		case *reset:
			err = cli.ResetPins(ctx, rest[0])
		case !pins:
			return usageErr("scale needs --shards, --producer-tasks or --consumer-tasks (or --reset)")
		case *forDur < 0:
			return usageErr("--for must be positive")
		default:
			err = cli.Scale(ctx, rest[0], req, *forDur)
		}
	case "top":
		err = cli.Top(ctx)
	}
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 1
	}
	return 0
}

// get reads the StreamProcessor name of the CLI's namespace. Not found says
// which namespace was searched, and where an object of that name does exist.
func (c *CLI) get(ctx context.Context, name string) (*streamingv1alpha1.StreamProcessor, error) {
	sp := &streamingv1alpha1.StreamProcessor{}
	err := c.Client.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: name}, sp)
	if err == nil {
		return sp, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("get StreamProcessor %s/%s: %w", c.Namespace, name, err)
	}
	msg := fmt.Sprintf("StreamProcessor %q not found in namespace %q", name, c.Namespace)
	var list streamingv1alpha1.StreamProcessorList
	if c.Client.List(ctx, &list) == nil { // a hint only: no cluster-wide list rights is fine
		var elsewhere []string
		for _, o := range list.Items {
			if o.Name == name {
				elsewhere = append(elsewhere, o.Namespace)
			}
		}
		if len(elsewhere) > 0 {
			word := "namespace"
			if len(elsewhere) > 1 {
				word = "namespaces"
			}
			msg += fmt.Sprintf(" (it exists in %s %s: add -n %s)", word, strings.Join(elsewhere, ", "), elsewhere[0])
		}
	}
	return nil, errors.New(msg)
}
