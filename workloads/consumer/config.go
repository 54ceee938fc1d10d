// Package consumer is the consumer service: it runs a kcl.Worker over the
// stream, hands every user record to a pluggable Handler (by default one JSON
// line per record to stdout or a file), retries failing records with backoff
// and dead-letters them with the error — never skipping one silently — and
// serves /healthz, /readyz and Prometheus /metrics while publishing the
// CloudWatch metrics the operator scales on.
package consumer

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

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
	env := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	host, _ := os.Hostname()
	fs := flag.NewFlagSet("consumer", flag.ContinueOnError)
	var c Config
	var startPos, startTS string
	fs.StringVar(&c.StreamName, "stream-name", env("STREAM_NAME", ""), "Kinesis stream to consume (STREAM_NAME)")
	fs.StringVar(&c.ApplicationName, "application-name", env("APPLICATION_NAME", ""), "application name; names the DynamoDB lease table (APPLICATION_NAME)")
	fs.StringVar(&c.WorkerID, "worker-id", env("WORKER_ID", fmt.Sprintf("%s-%d", host, os.Getpid())), "unique worker id (WORKER_ID)")
	fs.StringVar(&c.Region, "region", env("AWS_REGION", ""), "AWS region (AWS_REGION)")
	fs.StringVar(&startPos, "start-position", env("START_POSITION", "TRIM_HORIZON"), "TRIM_HORIZON, LATEST or AT_TIMESTAMP (START_POSITION)")
	fs.StringVar(&startTS, "start-timestamp", env("START_TIMESTAMP", ""), "RFC 3339 time for AT_TIMESTAMP (START_TIMESTAMP)")
	fs.StringVar(&c.Output, "output", env("OUTPUT", "-"), "file to append JSON lines to; - for stdout (OUTPUT)")
	fs.StringVar(&c.DeadLetterFile, "dead-letter-file", env("DEAD_LETTER_FILE", ""), "file for records that keep failing (DEAD_LETTER_FILE)")
	fs.StringVar(&c.DeadLetterStream, "dead-letter-stream", env("DEAD_LETTER_STREAM", ""), "Kinesis stream for records that keep failing (DEAD_LETTER_STREAM)")
	durations := []struct {
		p            *time.Duration
		flag, envKey string
		def          string
		usage        string
	}{
		{&c.LeaseDuration, "lease-duration", "LEASE_DURATION", "10s", "lease expiry; renewed every third of it"},
		{&c.ShardSyncInterval, "shard-sync-interval", "SHARD_SYNC_INTERVAL", "60s", "how often to list shards"},
		{&c.PollInterval, "poll-interval", "POLL_INTERVAL", "1s", "wait after an empty or caught-up read (min 200ms)"},
		{&c.RetryBackoff, "retry-backoff", "RETRY_BACKOFF", "100ms", "first retry delay of a failing record, doubling"},
		{&c.CloudWatchInterval, "cloudwatch-interval", "CLOUDWATCH_INTERVAL", "60s", "CloudWatch publishing period"},
		{&c.ShutdownTimeout, "shutdown-timeout", "SHUTDOWN_TIMEOUT", "25s", "graceful shutdown budget after SIGTERM"},
	}
	var errs []error
	for _, d := range durations {
		v, err := time.ParseDuration(env(d.envKey, d.def))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d.envKey, err))
		}
		fs.DurationVar(d.p, d.flag, v, d.usage+" ("+d.envKey+")")
	}
	ints := []struct {
		p            *int
		flag, envKey string
		def          int
		usage        string
	}{
		{&c.MaxRecords, "max-records", "MAX_RECORDS", 10000, "records per GetRecords call"},
		{&c.RetryAttempts, "retry-attempts", "RETRY_ATTEMPTS", 5, "attempts per record before dead-lettering"},
	}
	for _, i := range ints {
		v := i.def
		if s := getenv(i.envKey); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", i.envKey, err))
			}
			v = n
		}
		fs.IntVar(i.p, i.flag, v, i.usage+" ("+i.envKey+")")
	}
	fs.StringVar(&c.HTTPAddr, "http-addr", env("HTTP_ADDR", ":8080"), "listen address for /healthz, /readyz, /metrics (HTTP_ADDR)")
	fs.StringVar(&c.CloudWatchNamespace, "cloudwatch-namespace", env("CLOUDWATCH_NAMESPACE", DefaultCloudWatchNamespace), "CloudWatch namespace (CLOUDWATCH_NAMESPACE)")
	var processorCmd string
	fs.StringVar(&processorCmd, "processor-command", env("PROCESSOR_COMMAND", ""), "KCL MultiLang record processor command; one subprocess per shard (PROCESSOR_COMMAND)")
	ptimeout, err := time.ParseDuration(env("PROCESSOR_TIMEOUT", "0s"))
	if err != nil {
		errs = append(errs, fmt.Errorf("PROCESSOR_TIMEOUT: %w", err))
	}
	fs.DurationVar(&c.ProcessorTimeout, "processor-timeout", ptimeout, "longest wait for a processor's answer; 0 for no limit (PROCESSOR_TIMEOUT)")
	cwOn, err := strconv.ParseBool(env("CLOUDWATCH_ENABLED", "true"))
	if err != nil {
		errs = append(errs, fmt.Errorf("CLOUDWATCH_ENABLED: %w", err))
	}
	fs.BoolVar(&c.CloudWatchEnabled, "cloudwatch-enabled", cwOn, "publish CloudWatch metrics (CLOUDWATCH_ENABLED)")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("read consumer configuration: %w", errors.Join(errs...))
	}
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
