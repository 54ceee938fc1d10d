package producer

import (
	"bytes"
	"os"
	"strconv"
)

// cgroupMemoryFiles hold the container's memory limit: cgroup v2, then v1.
var cgroupMemoryFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// TaskMemory returns the task's memory in bytes and where it came from:
// TASK_MEMORY_MIB when set (the operator can set it to the task size), else the
// cgroup limit of the container, else 0 ("none": no limit known). A cgroup v1
// "unlimited" value (a huge number) counts as none.
func TaskMemory(cfg Config, readFile func(string) ([]byte, error)) (int64, string) {
	if cfg.TaskMemoryMiB > 0 {
		return int64(cfg.TaskMemoryMiB) << 20, "TASK_MEMORY_MIB"
	}
	for _, f := range cgroupMemoryFiles {
		b, err := readFile(f)
		if err != nil {
			continue
		}
		v := string(bytes.TrimSpace(b))
		if v == "max" {
			return 0, "none"
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 || n >= 1<<50 {
			return 0, "none"
		}
		return n, f
	}
	return 0, "none"
}

// MemoryLimit is the Go memory limit for a task of taskMem bytes: 90 % of it,
// leaving room for the stacks, the binary and the kernel's accounting of page
// cache. 0 means no limit.
func MemoryLimit(taskMem int64) int64 { return taskMem / 10 * 9 }

// baseHeap is what the producer needs besides request bodies and the buffer:
// runtime, SDK, HTTP connections, metrics (measured: about 20 MiB at rest).
const baseHeap = 48 << 20

// decodeFactor is the memory one body byte takes while it is read and decoded
// (the raw element copies, the decoded records and the answer), measured with
// TestMemoryOfConcurrentMaximumBodies.
const decodeFactor = 3

// InflightBytesFor returns MAX_INFLIGHT_BYTES: cfg.MaxInflightBytes when set;
// else, for a task of taskMem bytes, what fits in its memory limit after the
// base heap and the record buffer (counted twice: records and their PutRecords
// requests) at decodeFactor bytes per body byte, and at least one maximum-size
// body; else (no memory known) 64 MiB.
func InflightBytesFor(cfg Config, taskMem int64) int64 {
	if cfg.MaxInflightBytes > 0 {
		return cfg.MaxInflightBytes
	}
	if taskMem <= 0 {
		return 64 << 20
	}
	free := MemoryLimit(taskMem) - baseHeap - 2*cfg.MaxBufferBytes
	return max(free/decodeFactor, cfg.MaxRequestBytes)
}

// readFile is os.ReadFile, replaceable in tests.
var readFile = os.ReadFile
