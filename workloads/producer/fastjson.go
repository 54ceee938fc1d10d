package producer

import (
	"bytes"
	"unicode/utf8"
)

// parseSimpleRecord is the fast path of parseRecord for the seed's request
// shape, {"data":"..."} optionally followed by ,"partitionKey":"...", with no
// escapes, no control characters, valid UTF-8 and no whitespace. It reports
// ok=false for anything else, and the caller falls back to encoding/json,
// which gives the same result for these inputs (FuzzSimpleRecord checks it).
// data aliases body.
func parseSimpleRecord(body []byte) (data []byte, pk string, hasPK, ok bool) {
	const pre = `{"data":"`
	if !bytes.HasPrefix(body, []byte(pre)) {
		return nil, "", false, false
	}
	rest := body[len(pre):]
	v, rest, ok := simpleString(rest)
	if !ok {
		return nil, "", false, false
	}
	switch {
	case string(rest) == "}":
		return v, "", false, true
	case bytes.HasPrefix(rest, []byte(`,"partitionKey":"`)):
		k, rest, ok := simpleString(rest[len(`,"partitionKey":"`):])
		if !ok || string(rest) != "}" {
			return nil, "", false, false
		}
		return v, string(k), true, true
	}
	return nil, "", false, false
}

// simpleString scans a JSON string body up to its closing quote; ok=false if it
// holds an escape, a control character or invalid UTF-8.
func simpleString(b []byte) (s, rest []byte, ok bool) {
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			if !utf8.Valid(b[:i]) {
				return nil, nil, false
			}
			return b[:i], b[i+1:], true
		case c == '\\' || c < 0x20:
			return nil, nil, false
		}
	}
	return nil, nil, false
}

// appendJSONString appends s as a JSON string literal.
func appendJSONString(b []byte, s string) []byte {
	const hexd = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			b = append(b, c)
			i++
			continue
		}
		if c < utf8.RuneSelf {
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexd[c>>4], hexd[c&0xf])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
