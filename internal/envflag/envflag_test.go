package envflag

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestFlagBeatsEnvBeatsDefault(t *testing.T) {
	env := map[string]string{"NAME": "from-env", "N": "7", "BIG": "9000000000", "WAIT": "3s", "ON": "false"}
	s := New("t", func(k string) string { return env[k] }, io.Discard)
	name, other, n, big, wait, on := "def", "def", 1, int64(1), time.Second, true
	s.String(&name, "name", "NAME", "")
	s.String(&other, "other", "OTHER", "")
	s.Int(&n, "n", "N", "")
	s.Int64(&big, "big", "BIG", "")
	s.Duration(&wait, "wait", "WAIT", "")
	s.Bool(&on, "on", "ON", "")
	if err := s.Parse([]string{"--n=8"}); err != nil {
		t.Fatal(err)
	}
	if name != "from-env" || other != "def" || n != 8 || big != 9000000000 || wait != 3*time.Second || on {
		t.Errorf("got name=%q other=%q n=%d big=%d wait=%s on=%t", name, other, n, big, wait, on)
	}
}

func TestEveryBadVariableIsNamed(t *testing.T) {
	env := map[string]string{"N": "seven", "WAIT": "3", "ON": "yes"}
	s := New("t", func(k string) string { return env[k] }, io.Discard)
	n, wait, on := 1, time.Second, true
	s.Int(&n, "n", "N", "")
	s.Duration(&wait, "wait", "WAIT", "")
	s.Bool(&on, "on", "ON", "")
	err := s.Parse(nil)
	if err == nil {
		t.Fatal("no error for three bad variables")
	}
	for _, want := range []string{`N="seven"`, `WAIT="3"`, `ON="yes"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if n != 1 || wait != time.Second || !on {
		t.Errorf("bad variables changed the defaults: n=%d wait=%s on=%t", n, wait, on)
	}
}

func TestUnknownFlagIsAnError(t *testing.T) {
	s := New("t", func(string) string { return "" }, io.Discard)
	if err := s.Parse([]string{"--nope"}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("Parse(--nope) = %v, want an error naming the flag", err)
	}
}
