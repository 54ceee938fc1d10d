package producer

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestLoadConfig(t *testing.T) {
	env := map[string]string{"STREAM_NAME": "s1", "PORT": "9090", "LINGER": "25ms", "AUTH_TOKEN": "t", "ORDERED_INFLIGHT": "3"}
	get := func(k string) string { return env[k] }
	c, err := LoadConfig([]string{"-port", "7070"}, get, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.StreamName != "s1" || c.Port != 7070 || c.Linger != 25*time.Millisecond || c.AuthToken != "t" || c.MaxBufferBytes != 64<<20 ||
		c.OrderedInflight != 3 || c.UnorderedInflight != 4 {
		t.Fatalf("config %+v: env not read or flag not winning", c)
	}
	for name, tc := range map[string]struct {
		env  map[string]string
		args []string
		want string
	}{
		"missing stream":        {map[string]string{}, nil, "STREAM_NAME is required"},
		"bad duration env":      {map[string]string{"STREAM_NAME": "s", "LINGER": "soon"}, nil, `LINGER="soon"`},
		"bad number env":        {map[string]string{"STREAM_NAME": "s", "PORT": "http"}, nil, `PORT="http"`},
		"tiny buffer":           {map[string]string{"STREAM_NAME": "s", "MAX_BUFFER_BYTES": "1000"}, nil, "MAX_BUFFER_BYTES"},
		"zero ordered inflight": {map[string]string{"STREAM_NAME": "s", "ORDERED_INFLIGHT": "0"}, nil, "ORDERED_INFLIGHT"},
		"unknown flag":          {map[string]string{"STREAM_NAME": "s"}, []string{"-nope"}, "parse flags"},
		"bad log level flag":    {map[string]string{"STREAM_NAME": "s"}, []string{"-log-level", "loud"}, "LOG_LEVEL"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := LoadConfig(tc.args, func(k string) string { return tc.env[k] }, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %q", err, tc.want)
			}
		})
	}
}
