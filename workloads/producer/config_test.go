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
		c.OrderedInflight != 3 || c.UnorderedInflight != 4 || c.CloudWatchInterval != 10*time.Second {
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
		"straddling interval":   {map[string]string{"STREAM_NAME": "s", "CLOUDWATCH_INTERVAL": "45s"}, nil, "CLOUDWATCH_INTERVAL 45s neither divides a minute"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := LoadConfig(tc.args, func(k string) string { return tc.env[k] }, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %q", err, tc.want)
			}
		})
	}
}

func TestTaskMemoryAndInflightBytes(t *testing.T) {
	files := map[string]string{}
	read := func(name string) ([]byte, error) {
		if v, ok := files[name]; ok {
			return []byte(v), nil
		}
		return nil, io.EOF
	}
	cfg := DefaultConfig()
	if mem, src := TaskMemory(cfg, read); mem != 0 || src != "none" {
		t.Fatalf("no cgroup: %d %s", mem, src)
	}
	files["/sys/fs/cgroup/memory.max"] = "max\n"
	if mem, _ := TaskMemory(cfg, read); mem != 0 {
		t.Fatalf("memory.max=max: %d", mem)
	}
	files["/sys/fs/cgroup/memory.max"] = "536870912\n"
	if mem, src := TaskMemory(cfg, read); mem != 512<<20 || src != "/sys/fs/cgroup/memory.max" {
		t.Fatalf("cgroup v2: %d %s", mem, src)
	}
	delete(files, "/sys/fs/cgroup/memory.max")
	files["/sys/fs/cgroup/memory/memory.limit_in_bytes"] = "9223372036854771712"
	if mem, _ := TaskMemory(cfg, read); mem != 0 {
		t.Fatalf("cgroup v1 unlimited: %d", mem)
	}
	cfg.TaskMemoryMiB = 1024
	if mem, src := TaskMemory(cfg, read); mem != 1<<30 || src != "TASK_MEMORY_MIB" {
		t.Fatalf("TASK_MEMORY_MIB: %d %s", mem, src)
	}
	if got := InflightBytesFor(cfg, 0); got != 64<<20 {
		t.Fatalf("no memory known: %d", got)
	}
	// 512 MiB: 460.8 MiB limit - 48 MiB base - 2 × 64 MiB buffer, over 3.
	if got := InflightBytesFor(cfg, 512<<20); got < 90<<20 || got > 100<<20 {
		t.Fatalf("512 MiB task: %d", got)
	}
	if got := InflightBytesFor(cfg, 128<<20); got != cfg.MaxRequestBytes {
		t.Fatalf("tiny task: %d, want one maximum-size body", got)
	}
	cfg.MaxInflightBytes = 7 << 20
	if got := InflightBytesFor(cfg, 512<<20); got != 7<<20 {
		t.Fatalf("explicit: %d", got)
	}
}
