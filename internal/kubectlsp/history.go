package kubectlsp

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	"github.com/kdp-io/streamprocessor-operator/internal/capacity"
	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// History prints, oldest first, the reshard ledger (the UpdateShardCount
// calls of the rolling 24 h that status keeps), the last decision and every
// event about the object. Events older than the API server's event TTL
// (1 h by default) are gone; the ledger keeps 24 h.
func (c *CLI) History(ctx context.Context, name string) error {
	sp, err := c.get(ctx, name)
	if err != nil {
		return err
	}
	events, err := c.events(ctx, sp)
	if err != nil {
		return err
	}
	var all []entry
	for i, t := range sp.Status.Stream.Reshards {
		all = append(all, entry{at: t.Time, kind: "Reshard", reason: "UpdateShardCount",
			note: fmt.Sprintf("call %d of the %d in the ledger (AWS allows %d per rolling 24 h)", i+1, len(sp.Status.Stream.Reshards), scaling.ReshardsPerWindow)})
	}
	if d := sp.Status.LastDecision; d != nil {
		all = append(all, entry{at: d.Time.Time, kind: "Decision", reason: "LastDecision",
			note: fmt.Sprintf("%d shards, %d producer tasks, %d consumer tasks: %s", d.Shards, d.ProducerTasks, d.ConsumerTasks, d.Reason)})
	}
	all = append(all, events...)
	slices.SortStableFunc(all, func(a, b entry) int { return a.at.Compare(b.at) })
	if len(all) == 0 {
		fmt.Fprintf(c.Out, "StreamProcessor %s/%s: no reshard calls, decisions or events recorded.\n", sp.Namespace, sp.Name)
		return nil
	}
	w := tabwriter.NewWriter(c.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TIME\tKIND\tREASON\tWHAT")
	for _, e := range all {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", e.at.UTC().Format(time.RFC3339), e.kind, e.reason, e.note)
	}
	return w.Flush()
}

// Top prints one line per StreamProcessor of the namespace (every namespace
// with AllNamespaces): shards, tasks, and what the last decision saw —
// ingest rate, consumer lag, write throttling — and the list-price cost per
// hour of the open shards and running tasks (us-east-1 prices of
// internal/sim; PUT payload units not included). With Output json or yaml
// it prints the list instead.
func (c *CLI) Top(ctx context.Context) error {
	var list streamingv1alpha1.StreamProcessorList
	var opts []client.ListOption
	where := "in namespace " + c.Namespace
	if !c.AllNamespaces {
		opts = append(opts, client.InNamespace(c.Namespace))
	} else {
		where = "in any namespace"
	}
	if err := c.Client.List(ctx, &list, opts...); err != nil {
		return fmt.Errorf("list StreamProcessors %s: %w", where, err)
	}
	if c.Output != "" {
		return printList(c.Out, &list, c.Output)
	}
	if len(list.Items) == 0 {
		fmt.Fprintf(c.Out, "No StreamProcessors %s.\n", where)
		return nil
	}
	slices.SortFunc(list.Items, func(a, b streamingv1alpha1.StreamProcessor) int {
		if a.Namespace != b.Namespace {
			return strings.Compare(a.Namespace, b.Namespace)
		}
		return strings.Compare(a.Name, b.Name)
	})
	w := tabwriter.NewWriter(c.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAMESPACE\tNAME\tSHARDS\tPRODUCERS\tCONSUMERS\tRECORDS/S\tMIB/S\tLAG\tTHROTTLED\tUSD/H\tSTATE")
	for i := range list.Items {
		sp := &list.Items[i]
		st := &sp.Status
		in := map[string]string{}
		if st.LastDecision != nil {
			in = st.LastDecision.Inputs
		}
		fmt.Fprintf(w, "%s\t%s\t%d/%d\t%s\t%s\t%s\t%s\t%s\t%s\t%.3f\t%s\n", sp.Namespace, sp.Name,
			st.Stream.OpenShards, st.Stream.TargetShards, tasks(st.Producer), tasks(st.Consumer),
			orDash(in["incomingRecordsPerSec"]), orDash(in["incomingMiBPerSec"]), withUnit(in["iteratorAgeSeconds"], "s"),
			withUnit(in["throttledPercent"], "%"), CostPerHour(sp), state(sp))
	}
	return w.Flush()
}

// CostPerHour is the list price per hour, in USD, of sp's stream and running
// tasks (Fargate Linux/x86 vCPU and memory). A provisioned stream costs its
// open shards; an on-demand one its stream-hour plus the last decision's
// write rate, written and read once (PUT payload units and extra readers are
// left out: it is a glance, not a bill).
func CostPerHour(sp *streamingv1alpha1.StreamProcessor) float64 {
	task := func(w streamingv1alpha1.WorkloadSpec, running int32) float64 {
		return float64(running) * (float64(w.CPU)/1024*capacity.PriceFargateVCPUHour + float64(w.Memory)/1024*capacity.PriceFargateGBHour)
	}
	st := &sp.Status
	return streamCostPerHour(st) +
		task(sp.Spec.Producer.WorkloadSpec, st.Producer.RunningTasks) + task(sp.Spec.Consumer.WorkloadSpec, st.Consumer.RunningTasks)
}

func streamCostPerHour(st *streamingv1alpha1.StreamProcessorStatus) float64 {
	if st.Stream.Mode != "ON_DEMAND" {
		return float64(st.Stream.OpenShards) * capacity.PriceShardHour
	}
	var mibps float64
	if st.LastDecision != nil {
		mibps, _ = strconv.ParseFloat(st.LastDecision.Inputs["incomingMiBPerSec"], 64)
	}
	gbPerHour := mibps * 3600 / 1024
	return capacity.PriceOnDemandStreamHour + gbPerHour*(capacity.PriceOnDemandWriteGB+capacity.PriceOnDemandReadGB)
}

func state(sp *streamingv1alpha1.StreamProcessor) string {
	s := "NotReady"
	for _, c := range sp.Status.Conditions {
		if c.Type == "Ready" && c.Status == "True" {
			s = "Ready"
		}
	}
	if sp.Spec.Scaling.Paused {
		s += ",Paused"
	}
	if sp.Spec.Scaling.DryRun {
		s += ",DryRun"
	}
	return s
}

func withUnit(v, unit string) string {
	if _, err := strconv.ParseFloat(v, 64); err != nil {
		return "-"
	}
	return v + unit
}
