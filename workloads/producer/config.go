package producer

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/kdp-io/streamprocessor-operator/internal/envflag"
)

// Config is the producer's configuration. Every field has an environment
// variable and a flag of the same meaning; a flag overrides the variable.
type Config struct {
	StreamName string        // STREAM_NAME, -stream-name: the Kinesis stream (required)
	Port       int           // PORT, -port: HTTP listen port
	Region     string        // AWS_REGION, -region: AWS region ("" = SDK default chain)
	Linger     time.Duration // LINGER, -linger: how long a record may wait for companions
	// MaxBufferBytes bounds the records held in memory (data, key and a fixed
	// per-record overhead); a full buffer answers 429/503.
	MaxBufferBytes      int64 // MAX_BUFFER_BYTES, -max-buffer-bytes
	MaxRequestBytes     int64 // MAX_REQUEST_BYTES, -max-request-bytes: request body limit (413 beyond)
	MaxInflightRequests int   // MAX_INFLIGHT_REQUESTS, -max-inflight-requests: concurrent ingest requests (429 beyond)
	MaxInflightCalls    int   // MAX_INFLIGHT_CALLS, -max-inflight-calls: concurrent PutRecords calls
	// MaxInflightBytes bounds the request bodies being read and decoded at
	// once (each counts its Content-Length, or MaxRequestBytes when unknown);
	// a request beyond gets 429. 0 derives it from the task memory
	// (InflightBytesFor).
	MaxInflightBytes int64 // MAX_INFLIGHT_BYTES, -max-inflight-bytes
	// TaskMemoryMiB is the task's memory; the Go memory limit and the default
	// MaxInflightBytes follow it. 0 reads the cgroup limit (memory.max).
	TaskMemoryMiB int // TASK_MEMORY_MIB, -task-memory-mib
	// BodyReadTimeout plus the body's size at MinBodyRate is the deadline for
	// reading a request body; the headers have ReadHeaderTimeout (5 s).
	BodyReadTimeout time.Duration // BODY_READ_TIMEOUT, -body-read-timeout
	MinBodyRate     int64         // MIN_BODY_RATE, -min-body-rate: bytes per second a client must at least send
	// UnorderedInflight bounds the Kinesis records in flight per shard for
	// records with generated keys; records with caller keys always have one.
	UnorderedInflight int // UNORDERED_INFLIGHT, -unordered-inflight
	// OrderedInflight bounds the Kinesis records in flight per shard for
	// records with caller keys; beyond the first, a call carries only keys
	// that are not in flight (nor waiting for a retry), so order per key holds.
	OrderedInflight int // ORDERED_INFLIGHT, -ordered-inflight
	// KinesisCallTimeout bounds each PutRecords and ListShards call; a call
	// past it is retried (it may have taken effect: a possible duplicate).
	KinesisCallTimeout   time.Duration // KINESIS_CALL_TIMEOUT, -kinesis-call-timeout
	AckTimeout           time.Duration // ACK_TIMEOUT, -ack-timeout: longest a durable request waits for Kinesis (503 after)
	StopTimeout          time.Duration // STOP_TIMEOUT, -stop-timeout: shutdown budget after SIGTERM; keep below ECS's stopTimeout
	ShardRefreshInterval time.Duration // SHARD_REFRESH_INTERVAL, -shard-refresh-interval: periodic ListShards
	AuthToken            string        // AUTH_TOKEN, -auth-token: bearer token required when set
	CloudWatchNamespace  string        // CLOUDWATCH_NAMESPACE, -cloudwatch-namespace
	// CloudWatchInterval is how often the ingest metrics are published, in
	// intervals aligned to the wall clock; it divides a minute or is a whole
	// number of minutes (CheckCloudWatchInterval). 0 disables publishing.
	CloudWatchInterval time.Duration // CLOUDWATCH_INTERVAL, -cloudwatch-interval
	LogLevel           string        // LOG_LEVEL, -log-level: debug, info, warn, error
}

// DefaultConfig returns the defaults documented in docs/producer.md.
func DefaultConfig() Config {
	return Config{
		Port:                 8080,
		Linger:               10 * time.Millisecond,
		MaxBufferBytes:       64 << 20,
		MaxRequestBytes:      5 << 20,
		MaxInflightRequests:  4096,
		MaxInflightCalls:     16,
		BodyReadTimeout:      5 * time.Second,
		MinBodyRate:          256 << 10,
		UnorderedInflight:    4,
		OrderedInflight:      2,
		AckTimeout:           10 * time.Second,
		KinesisCallTimeout:   30 * time.Second,
		StopTimeout:          25 * time.Second,
		ShardRefreshInterval: 30 * time.Second,
		CloudWatchNamespace:  "StreamProcessor/Producer",
		CloudWatchInterval:   10 * time.Second,
		LogLevel:             "info",
	}
}

// LoadConfig reads the configuration from getenv, then from args (flags), and
// validates it. Invalid values, in either place, are errors.
func LoadConfig(args []string, getenv func(string) string, usage io.Writer) (Config, error) {
	c := DefaultConfig()
	fs := envflag.New("producer", getenv, usage)
	fs.String(&c.StreamName, "stream-name", "STREAM_NAME", "Kinesis stream to write to (required)")
	fs.Int(&c.Port, "port", "PORT", "HTTP listen port")
	fs.String(&c.Region, "region", "AWS_REGION", "AWS region")
	fs.Duration(&c.Linger, "linger", "LINGER", "longest time a record waits to be batched")
	fs.Int64(&c.MaxBufferBytes, "max-buffer-bytes", "MAX_BUFFER_BYTES", "memory bound of buffered records")
	fs.Int64(&c.MaxRequestBytes, "max-request-bytes", "MAX_REQUEST_BYTES", "request body limit")
	fs.Int(&c.MaxInflightRequests, "max-inflight-requests", "MAX_INFLIGHT_REQUESTS", "concurrent ingest requests")
	fs.Int(&c.MaxInflightCalls, "max-inflight-calls", "MAX_INFLIGHT_CALLS", "concurrent PutRecords calls")
	fs.Int64(&c.MaxInflightBytes, "max-inflight-bytes", "MAX_INFLIGHT_BYTES", "request body bytes read and decoded at once (0: from the task memory)")
	fs.Int(&c.TaskMemoryMiB, "task-memory-mib", "TASK_MEMORY_MIB", "task memory in MiB (0: the cgroup limit); sets the Go memory limit")
	fs.Duration(&c.BodyReadTimeout, "body-read-timeout", "BODY_READ_TIMEOUT", "time to read a body, plus its size at the minimum body rate")
	fs.Int64(&c.MinBodyRate, "min-body-rate", "MIN_BODY_RATE", "slowest accepted body upload in bytes per second")
	fs.Int(&c.UnorderedInflight, "unordered-inflight", "UNORDERED_INFLIGHT", "Kinesis records in flight per shard for records with generated keys")
	fs.Int(&c.OrderedInflight, "ordered-inflight", "ORDERED_INFLIGHT", "Kinesis records in flight per shard for records with caller keys (each further one carries only keys not in flight)")
	fs.Duration(&c.KinesisCallTimeout, "kinesis-call-timeout", "KINESIS_CALL_TIMEOUT", "deadline of each PutRecords and ListShards call")
	fs.Duration(&c.AckTimeout, "ack-timeout", "ACK_TIMEOUT", "longest wait for Kinesis before a durable request gets 503")
	fs.Duration(&c.StopTimeout, "stop-timeout", "STOP_TIMEOUT", "shutdown budget after SIGTERM")
	fs.Duration(&c.ShardRefreshInterval, "shard-refresh-interval", "SHARD_REFRESH_INTERVAL", "periodic shard map refresh")
	fs.String(&c.AuthToken, "auth-token", "AUTH_TOKEN", "bearer token required on ingest and metrics when set")
	fs.String(&c.CloudWatchNamespace, "cloudwatch-namespace", "CLOUDWATCH_NAMESPACE", "CloudWatch namespace of the ingest metrics")
	fs.Duration(&c.CloudWatchInterval, "cloudwatch-interval", "CLOUDWATCH_INTERVAL", "CloudWatch publish interval: divides a minute or is whole minutes; 0 disables")
	fs.String(&c.LogLevel, "log-level", "LOG_LEVEL", "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// Validate reports every invalid field at once.
func (c Config) Validate() error {
	var errs []error
	if c.StreamName == "" {
		errs = append(errs, errors.New("STREAM_NAME is required"))
	}
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("PORT %d out of range", c.Port))
	}
	if c.Linger < 0 {
		errs = append(errs, errors.New("LINGER must not be negative"))
	}
	if c.MaxBufferBytes < 2<<20 {
		errs = append(errs, fmt.Errorf("MAX_BUFFER_BYTES %d below the 2 MiB minimum", c.MaxBufferBytes))
	}
	if c.MaxRequestBytes < 1024 {
		errs = append(errs, fmt.Errorf("MAX_REQUEST_BYTES %d below 1024", c.MaxRequestBytes))
	}
	if c.MaxInflightRequests < 1 || c.MaxInflightCalls < 1 || c.UnorderedInflight < 1 || c.OrderedInflight < 1 {
		errs = append(errs, errors.New("MAX_INFLIGHT_REQUESTS, MAX_INFLIGHT_CALLS, UNORDERED_INFLIGHT and ORDERED_INFLIGHT must be at least 1"))
	}
	if c.AckTimeout <= 0 || c.StopTimeout <= 0 || c.ShardRefreshInterval <= 0 || c.BodyReadTimeout <= 0 || c.KinesisCallTimeout <= 0 {
		errs = append(errs, errors.New("ACK_TIMEOUT, STOP_TIMEOUT, SHARD_REFRESH_INTERVAL, BODY_READ_TIMEOUT and KINESIS_CALL_TIMEOUT must be positive"))
	}
	if c.MinBodyRate < 1024 {
		errs = append(errs, fmt.Errorf("MIN_BODY_RATE %d below 1024 bytes per second", c.MinBodyRate))
	}
	if c.MaxInflightBytes != 0 && c.MaxInflightBytes < c.MaxRequestBytes {
		errs = append(errs, fmt.Errorf("MAX_INFLIGHT_BYTES %d below MAX_REQUEST_BYTES %d: no maximum-size request could be admitted", c.MaxInflightBytes, c.MaxRequestBytes))
	}
	if c.TaskMemoryMiB < 0 {
		errs = append(errs, errors.New("TASK_MEMORY_MIB must not be negative"))
	}
	if err := CheckCloudWatchInterval(c.CloudWatchInterval); err != nil {
		errs = append(errs, err)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("LOG_LEVEL %q is not one of debug, info, warn, error", c.LogLevel))
	}
	return errors.Join(errs...)
}

// CheckCloudWatchInterval returns an error unless d is 0 (publishing off), or
// at least 1 s and either divides a minute or is a whole number of minutes.
// Only then do the aligned intervals tile every minute, so that a minute's
// Sum holds that minute's points and no other's; and below 1 s, CloudWatch's
// finest resolution, shorter intervals only cost more requests.
func CheckCloudWatchInterval(d time.Duration) error {
	const use = "use one that divides a minute (10s, the default; 5s, 15s, 20s, 30s) or a whole number of minutes (60s, 2m); 0 disables publishing"
	switch {
	case d < 0:
		return fmt.Errorf("CLOUDWATCH_INTERVAL %s is negative: %s", d, use)
	case d == 0:
		return nil
	case d < time.Second:
		return fmt.Errorf("CLOUDWATCH_INTERVAL %s is below 1s, CloudWatch's finest resolution: %s", d, use)
	case d < time.Minute && time.Minute%d != 0, d > time.Minute && d%time.Minute != 0:
		return fmt.Errorf("CLOUDWATCH_INTERVAL %s neither divides a minute nor is a whole number of minutes, so its intervals would straddle minutes: %s", d, use)
	}
	return nil
}
