package sim

import (
	"fmt"
	"os"
	"testing"
)

type logCtl struct {
	*Operator
	n int
}

func (l *logCtl) Control(v View) Command {
	c := l.Operator.Control(v)
	l.n++
	if c.ReshardTo > 0 || l.LastDecision.Used.ThrottledPercent > 1 {
		d := l.LastDecision
		fmt.Printf("%s open=%d upd=%v -> to=%d prod %d/%d cons %d/%d | %s\n", v.Now.Format("01-02 15:04"), v.OpenShards, v.Updating, c.ReshardTo,
			v.Producer.Running, c.ProducerDesired, v.Consumer.Running, c.ConsumerDesired, d.Reason)
	}
	return c
}

func TestDebugRun(t *testing.T) {
	name := os.Getenv("DBG")
	if name == "" {
		t.Skip()
	}
	cfg := DefaultConfig()
	trs := SyntheticTraces(1)
	if f := os.Getenv("DBGFILE"); f != "" {
		tr, err := LoadTraceFile(f)
		if err != nil {
			t.Fatal(err)
		}
		trs = append(trs, tr)
	}
	for _, tr := range trs {
		if tr.Name == name {
			if os.Getenv("DBGALL") == "" {
				tr.Load = tr.Load[:min(len(tr.Load), 2*1440)]
			}
			r := Run(cfg, tr, &logCtl{Operator: NewOperator(cfg, 10000)})
			fmt.Printf("%+v\n", r)
		}
	}
}
