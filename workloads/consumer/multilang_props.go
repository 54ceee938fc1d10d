package consumer

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// propertyKey is one key of a KCL MultiLangDaemon .properties file the
// consumer understands: the environment variable it sets (an empty env means
// the key is checked and then has no effect), and how its value is converted.
type propertyKey struct {
	env     string
	convert func(string) (string, error)
	why     string // for keys without effect: why they need none
}

func asIs(v string) (string, error) { return v, nil }

func millis(v string) (string, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return "", fmt.Errorf("want a positive number of milliseconds, got %q", v)
	}
	return (time.Duration(n) * time.Millisecond).String(), nil
}

func seconds(v string) (string, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return "", fmt.Errorf("want a positive number of seconds, got %q", v)
	}
	return (time.Duration(n) * time.Second).String(), nil
}

func oneOf(allowed ...string) func(string) (string, error) {
	return func(v string) (string, error) {
		for _, a := range allowed {
			if v == a {
				return v, nil
			}
		}
		return "", fmt.Errorf("only %s is supported, got %q", strings.Join(allowed, " or "), v)
	}
}

// propertyKeys are the MultiLangDaemon keys the consumer supports, with the
// meaning the daemon gives them. Any other key is an error: silently
// ignoring a setting the user relies on would change the behaviour unseen.
var propertyKeys = map[string]propertyKey{
	"executableName":               {env: "PROCESSOR_COMMAND", convert: asIs},
	"streamName":                   {env: "STREAM_NAME", convert: asIs},
	"applicationName":              {env: "APPLICATION_NAME", convert: asIs},
	"regionName":                   {env: "AWS_REGION", convert: asIs},
	"initialPositionInStream":      {env: "START_POSITION", convert: asIs},
	"workerId":                     {env: "WORKER_ID", convert: asIs},
	"failoverTimeMillis":           {env: "LEASE_DURATION", convert: millis},
	"shardSyncIntervalMillis":      {env: "SHARD_SYNC_INTERVAL", convert: millis},
	"idleTimeBetweenReadsInMillis": {env: "POLL_INTERVAL", convert: millis},
	"maxRecords":                   {env: "MAX_RECORDS", convert: asIs},
	"timeoutInSeconds":             {env: "PROCESSOR_TIMEOUT", convert: seconds},
	"AWSCredentialsProvider": {convert: oneOf("DefaultAWSCredentialsProviderChain", "DefaultCredentialsProvider"),
		why: "the consumer always uses the AWS SDK's default credential chain (the ECS task role)"},
	"processingLanguage": {convert: asIs, why: "the daemon only appends it to its user agent"},
	"callProcessRecordsEvenForEmptyRecordList": {convert: oneOf("false"),
		why: "empty batches are never delivered, as with the daemon's default"},
	"validateSequenceNumberBeforeCheckpointing": {convert: oneOf("true"),
		why: "a checkpoint is always checked against the records delivered"},
}

// PropertiesEnv reads a KCL MultiLangDaemon .properties file (the
// java.util.Properties format) and returns the consumer environment variables
// its keys stand for. A key the consumer does not support, or a value it
// cannot honour, is an error naming the key.
func PropertiesEnv(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read properties file: %w", err)
	}
	props, err := parseProperties(string(b))
	if err != nil {
		return nil, fmt.Errorf("properties file %q: %w", path, err)
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	env := map[string]string{}
	var errs []error
	for _, k := range keys {
		pk, ok := propertyKeys[k]
		if !ok {
			errs = append(errs, fmt.Errorf("key %q is not supported by this consumer (supported: %s)", k, supportedKeys()))
			continue
		}
		v, err := pk.convert(props[k])
		if err != nil {
			errs = append(errs, fmt.Errorf("key %q: %w", k, err))
			continue
		}
		if pk.env != "" {
			env[pk.env] = v
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("properties file %q: %w", path, errors.Join(errs...))
	}
	return env, nil
}

func supportedKeys() string {
	keys := make([]string, 0, len(propertyKeys))
	for k := range propertyKeys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

// parseProperties parses the java.util.Properties text format: comment lines
// start with # or !; a key ends at the first unescaped '=', ':' or blank;
// a line ending in an odd number of backslashes continues on the next one;
// \t \n \r \f \uXXXX and \<char> escapes are decoded. Values are trimmed of
// leading blanks (as Java does) and, unlike Java, of trailing ones, which a
// copied command line or stream name never means to keep.
func parseProperties(text string) (map[string]string, error) {
	out := map[string]string{}
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimLeft(lines[i], " \t\f")
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		lineNo := i + 1
		for endsInBackslash(line) && i+1 < len(lines) {
			i++
			line = line[:len(line)-1] + strings.TrimLeft(lines[i], " \t\f")
		}
		if endsInBackslash(line) {
			line = line[:len(line)-1]
		}
		k := 0
		for k < len(line) {
			c := line[k]
			if c == '\\' {
				k += 2
				continue
			}
			if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\f' {
				break
			}
			k++
		}
		k = min(k, len(line))
		rawKey, rest := line[:k], strings.TrimLeft(line[k:], " \t\f")
		if rest != "" && (rest[0] == '=' || rest[0] == ':') {
			rest = strings.TrimLeft(rest[1:], " \t\f")
		}
		key, err := unescapeProperty(rawKey)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", lineNo, err)
		}
		val, err := unescapeProperty(rest)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", lineNo, err)
		}
		out[key] = strings.TrimRight(val, " \t\f")
	}
	return out, nil
}

func endsInBackslash(s string) bool {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

func unescapeProperty(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch c := s[i]; c {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+5 > len(s) {
				return "", fmt.Errorf("short \\u escape in %q", s)
			}
			r, err := strconv.ParseUint(s[i+1:i+5], 16, 32)
			if err != nil {
				return "", fmt.Errorf("bad \\u escape in %q", s)
			}
			b.WriteRune(rune(r))
			i += 4
		default:
			b.WriteByte(c)
		}
	}
	if !utf8.ValidString(b.String()) {
		return "", fmt.Errorf("invalid UTF-8 in %q", s)
	}
	return b.String(), nil
}

// withPropertiesFile returns getenv backed by the keys of the file named by
// PROPERTIES_FILE, if set: a variable set in the environment wins over the
// file, as the daemon's users expect of a container's environment.
func withPropertiesFile(getenv func(string) string) (func(string) string, string, error) {
	path := getenv("PROPERTIES_FILE")
	if path == "" {
		return getenv, "", nil
	}
	props, err := PropertiesEnv(path)
	if err != nil {
		return nil, "", fmt.Errorf("invalid consumer configuration: %w", err)
	}
	if props["PROCESSOR_COMMAND"] == "" && getenv("PROCESSOR_COMMAND") == "" {
		return nil, "", fmt.Errorf("invalid consumer configuration: properties file %q: executableName is required (or set PROCESSOR_COMMAND)", path)
	}
	return func(k string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return props[k]
	}, path, nil
}

// setProcessorCommand splits cmd on blanks (as the daemon splits
// executableName) and checks what MultiLang mode rules out.
func (c *Config) setProcessorCommand(cmd string) []error {
	c.ProcessorCommand = strings.Fields(cmd)
	if len(c.ProcessorCommand) == 0 {
		if c.ProcessorTimeout != 0 {
			return []error{errors.New("PROCESSOR_TIMEOUT is set without PROCESSOR_COMMAND")}
		}
		return nil
	}
	var errs []error
	if _, err := exec.LookPath(c.ProcessorCommand[0]); err != nil {
		errs = append(errs, fmt.Errorf("PROCESSOR_COMMAND: %w", err))
	}
	if c.ProcessorTimeout < 0 {
		errs = append(errs, errors.New("PROCESSOR_TIMEOUT must not be negative"))
	}
	if c.Output != "-" {
		errs = append(errs, errors.New("OUTPUT has no effect with a record processor command: the processor handles the records"))
	}
	if c.DeadLetterFile != "" || c.DeadLetterStream != "" {
		errs = append(errs, errors.New("DEAD_LETTER_FILE and DEAD_LETTER_STREAM have no effect with a record processor command: the processor decides what a failed record means"))
	}
	return errs
}
