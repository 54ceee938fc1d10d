// Package consumer is the consumer service: it runs a kcl.Worker over the
// stream, hands every user record to a pluggable Handler (by default one JSON
// line per record to stdout or a file), retries failing records with backoff
// and dead-letters them with the error — never skipping one silently — and
// serves /healthz, /readyz and Prometheus /metrics while publishing the
// CloudWatch metrics the operator scales on.
package consumer

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/kdp-io/streamprocessor-operator/internal/envflag"
	"github.com/kdp-io/streamprocessor-operator/workloads/kcl"
)

// Config is the consumer's configuration. Every field has an environment
// variable; flags of the same meaning override it.
type Config struct {
	StreamName      string              // STREAM_NAME, --stream-name (required)
	ApplicationName string              // APPLICATION_NAME, --application-name: the lease table (required)
	WorkerID        string              // WORKER_ID, --worker-id [hostname-pid]
	Region          string              // AWS_REGION, --region
	StartPosition   kcl.InitialPosition // START_POSITION, --start-position [TRIM_HORIZON]
	StartTimestamp  time.Time           // START_TIMESTAMP, --start-timestamp (RFC 3339; for AT_TIMESTAMP)
	Output          string              // OUTPUT, --output: file for JSON lines ["-" = stdout]

	DeadLetterFile   string // DEAD_LETTER_FILE, --dead-letter-file
	DeadLetterStream string // DEAD_LETTER_STREAM, --dead-letter-stream

	LeaseDuration     time.Duration // LEASE_DURATION, --lease-duration [10s]
	ShardSyncInterval time.Duration // SHARD_SYNC_INTERVAL, --shard-sync-interval [60s]
	PollInterval      time.Duration // POLL_INTERVAL, --poll-interval: idle time between reads [1s]
	MaxRecords        int           // MAX_RECORDS, --max-records per GetRecords [10000]

	RetryAttempts int           // RETRY_ATTEMPTS, --retry-attempts per record before dead-lettering [5]
	RetryBackoff  time.Duration // RETRY_BACKOFF, --retry-backoff: first retry delay, doubling [100ms]

	HTTPAddr            string        // HTTP_ADDR, --http-addr for /healthz, /readyz, /metrics [:8080]
	CloudWatchEnabled   bool          // CLOUDWATCH_ENABLED, --cloudwatch-enabled [true]
	CloudWatchNamespace string        // CLOUDWATCH_NAMESPACE, --cloudwatch-namespace [StreamProcessor/Consumer]
	CloudWatchInterval  time.Duration // CLOUDWATCH_INTERVAL, --cloudwatch-interval [60s]
	ShutdownTimeout     time.Duration // SHUTDOWN_TIMEOUT, --shutdown-timeout [25s, inside ECS's 30s stop timeout]

	// MultiLang mode (docs/multilang.md): records go to a KCL MultiLang
	// processor subprocess per shard instead of the JSON-lines handler.
	// PROPERTIES_FILE names a MultiLangDaemon .properties file whose keys
	// stand in for the environment variables they map to (the environment
	// wins); its executableName is PROCESSOR_COMMAND.
	PropertiesFile   string        // PROPERTIES_FILE
	ProcessorCommand []string      // PROCESSOR_COMMAND, --processor-command: split on blanks
	ProcessorTimeout time.Duration // PROCESSOR_TIMEOUT, --processor-timeout: per answer [0 = no limit]
}

// DefaultCloudWatchNamespace is where the consumer publishes its metrics.
const DefaultCloudWatchNamespace = "StreamProcessor/Consumer"

// LoadConfig reads the environment through getenv, then args as flags, and
// validates the result.
func LoadConfig(args []string, getenv func(string) string) (Config, error) {
	getenv, propsFile, err := withPropertiesFile(getenv)
	if err != nil {
		return Config{}, err
	}
	host, _ := os.Hostname()
	c := Config{
		WorkerID: fmt.Sprintf("%s-%d", host, os.Getpid()), Output: "-",
		LeaseDuration: 10 * time.Second, ShardSyncInterval: 60 * time.Second, PollInterval: time.Second,
		RetryBackoff: 100 * time.Millisecond, CloudWatchInterval: 60 * time.Second, ShutdownTimeout: 25 * time.Second,
		MaxRecords: 10000, RetryAttempts: 5, HTTPAddr: ":8080", CloudWatchNamespace: DefaultCloudWatchNamespace, CloudWatchEnabled: true,
	}
	startPos, startTS, processorCmd := "TRIM_HORIZON", "", ""
	fs := envflag.New("consumer", getenv, os.Stderr)
	fs.String(&c.StreamName, "stream-name", "STREAM_NAME", "Kinesis stream to consume")
	fs.String(&c.ApplicationName, "application-name", "APPLICATION_NAME", "application name; names the DynamoDB lease table")
	fs.String(&c.WorkerID, "worker-id", "WORKER_ID", "unique worker id")
	fs.String(&c.Region, "region", "AWS_REGION", "AWS region")
	fs.String(&startPos, "start-position", "START_POSITION", "TRIM_HORIZON, LATEST or AT_TIMESTAMP")
	fs.String(&startTS, "start-timestamp", "START_TIMESTAMP", "RFC 3339 time for AT_TIMESTAMP")
	fs.String(&c.Output, "output", "OUTPUT", "file to append JSON lines to; - for stdout")
	fs.String(&c.DeadLetterFile, "dead-letter-file", "DEAD_LETTER_FILE", "file for records that keep failing")
	fs.String(&c.DeadLetterStream, "dead-letter-stream", "DEAD_LETTER_STREAM", "Kinesis stream for records that keep failing")
	fs.Duration(&c.LeaseDuration, "lease-duration", "LEASE_DURATION", "lease expiry; renewed every third of it")
	fs.Duration(&c.ShardSyncInterval, "shard-sync-interval", "SHARD_SYNC_INTERVAL", "how often to list shards")
	fs.Duration(&c.PollInterval, "poll-interval", "POLL_INTERVAL", "wait after an empty or caught-up read (min 200ms)")
	fs.Duration(&c.RetryBackoff, "retry-backoff", "RETRY_BACKOFF", "first retry delay of a failing record, doubling")
	fs.Duration(&c.CloudWatchInterval, "cloudwatch-interval", "CLOUDWATCH_INTERVAL", "CloudWatch publishing period")
	fs.Duration(&c.ShutdownTimeout, "shutdown-timeout", "SHUTDOWN_TIMEOUT", "graceful shutdown budget after SIGTERM")
	fs.Int(&c.MaxRecords, "max-records", "MAX_RECORDS", "records per GetRecords call")
	fs.Int(&c.RetryAttempts, "retry-attempts", "RETRY_ATTEMPTS", "attempts per record before dead-lettering")
	fs.String(&c.HTTPAddr, "http-addr", "HTTP_ADDR", "listen address for /healthz, /readyz, /metrics")
	fs.String(&c.CloudWatchNamespace, "cloudwatch-namespace", "CLOUDWATCH_NAMESPACE", "CloudWatch namespace")
	fs.String(&processorCmd, "processor-command", "PROCESSOR_COMMAND", "KCL MultiLang record processor command; one subprocess per shard")
	fs.Duration(&c.ProcessorTimeout, "processor-timeout", "PROCESSOR_TIMEOUT", "longest wait for a processor's answer; 0 for no limit")
	fs.Bool(&c.CloudWatchEnabled, "cloudwatch-enabled", "CLOUDWATCH_ENABLED", "publish CloudWatch metrics")
	if err := fs.Parse(args); err != nil {
		return Config{}, fmt.Errorf("read consumer configuration: %w", err)
	}
	var errs []error
	pos, err := kcl.ParseInitialPosition(startPos)
	if err != nil {
		errs = append(errs, err)
	}
	c.StartPosition = pos
	if startTS != "" {
		ts, err := time.Parse(time.RFC3339, startTS)
		if err != nil {
			errs = append(errs, fmt.Errorf("START_TIMESTAMP: %w", err))
		}
		c.StartTimestamp = ts
	}
	if c.StreamName == "" {
		errs = append(errs, errors.New("STREAM_NAME (--stream-name) is required"))
	}
	if c.ApplicationName == "" {
		errs = append(errs, errors.New("APPLICATION_NAME (--application-name) is required"))
	}
	if c.StartPosition == kcl.AtTimestamp && c.StartTimestamp.IsZero() {
		errs = append(errs, errors.New("START_POSITION=AT_TIMESTAMP needs START_TIMESTAMP"))
	}
	if c.DeadLetterFile != "" && c.DeadLetterStream != "" {
		errs = append(errs, errors.New("set DEAD_LETTER_FILE or DEAD_LETTER_STREAM, not both"))
	}
	if c.RetryAttempts < 1 {
		errs = append(errs, errors.New("RETRY_ATTEMPTS must be at least 1"))
	}
	if c.LeaseDuration <= 0 || c.ShardSyncInterval <= 0 || c.PollInterval <= 0 || c.CloudWatchInterval <= 0 || c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("durations must be positive"))
	}
	if c.CloudWatchNamespace = strings.TrimSpace(c.CloudWatchNamespace); c.CloudWatchEnabled && c.CloudWatchNamespace == "" {
		errs = append(errs, errors.New("CLOUDWATCH_NAMESPACE is empty"))
	}
	c.PropertiesFile = propsFile
	errs = append(errs, c.setProcessorCommand(processorCmd)...)
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("invalid consumer configuration: %w", errors.Join(errs...))
	}
	return c, nil
}
