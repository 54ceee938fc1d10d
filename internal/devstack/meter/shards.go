package meter

import "strings"

// streamName is the stream a request names, by StreamName or by StreamARN
// (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME).
func streamName(name, arn string) string {
	if name != "" {
		return name
	}
	if i := strings.LastIndex(arn, ":stream/"); i >= 0 {
		return arn[i+len(":stream/"):]
	}
	return ""
}
