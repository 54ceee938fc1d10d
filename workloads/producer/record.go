package producer

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"unicode/utf8"

	"github.com/kdp-io/streamprocessor-operator/workloads/kpl"
)

// recordIn is the JSON shape of one record.
type recordIn struct {
	Data         json.RawMessage `json:"data"`
	PartitionKey *string         `json:"partitionKey"`
	Encoding     *string         `json:"encoding"`
}

// parseRecord decodes one record object. data: a JSON string is stored as its
// UTF-8 bytes; any other JSON value except null (object, array, number, bool)
// is stored as its compact JSON text; with "encoding":"base64", data is a
// base64 string (standard alphabet, padded) and its decoded bytes are stored —
// the way to send binary. A record whose text is not valid UTF-8 is rejected:
// JSON is UTF-8, and replacing bytes would store something the caller did not
// send. It returns a rejection reason ("invalid", "too_large") and message on
// failure.
func parseRecord(raw []byte) (Record, string, string) {
	if data, pk, hasPK, ok := parseSimpleRecord(raw); ok {
		return checkRecord(bytes.Clone(data), pk, hasPK)
	}
	return parseRecordSlow(raw)
}

// parseRecordOwned is parseRecord for a body that the caller hands over and
// never reuses: a record of the seed's shape without a partition key keeps
// its data inside raw instead of copying it. raw is then at most the data
// plus the 11 bytes of {"data":""}, within the buffer's per-record overhead;
// with a caller key (which would be held twice) the data is copied.
func parseRecordOwned(raw []byte) (Record, string, string) {
	if data, pk, hasPK, ok := parseSimpleRecord(raw); ok {
		if hasPK {
			data = bytes.Clone(data)
		}
		return checkRecord(data, pk, hasPK)
	}
	return parseRecordSlow(raw)
}

// parseRecordSlow is parseRecord with encoding/json; data never aliases raw.
func parseRecordSlow(raw []byte) (Record, string, string) {
	if !utf8.Valid(raw) {
		return Record{}, "invalid", `record is not valid UTF-8; send binary data as base64 with "encoding":"base64"`
	}
	var in recordIn
	if err := json.Unmarshal(raw, &in); err != nil {
		return Record{}, "invalid", "malformed JSON: " + err.Error()
	}
	if len(in.Data) == 0 {
		return Record{}, "invalid", `missing "data"`
	}
	var data []byte
	base64Data := false
	if in.Encoding != nil {
		if *in.Encoding != "base64" {
			return Record{}, "invalid", fmt.Sprintf(`"encoding" must be "base64", not %q`, *in.Encoding)
		}
		base64Data = true
	}
	switch {
	case in.Data[0] == 'n':
		return Record{}, "invalid", `"data" must not be null`
	case base64Data:
		var s string
		if err := json.Unmarshal(in.Data, &s); err != nil {
			return Record{}, "invalid", `"data" with "encoding":"base64" must be a string`
		}
		var err error
		if data, err = base64.StdEncoding.DecodeString(s); err != nil {
			return Record{}, "invalid", `"data" is not valid base64: ` + err.Error()
		}
	case in.Data[0] == '"':
		if bytes.IndexByte(in.Data, '\\') < 0 {
			data = in.Data[1 : len(in.Data)-1]
		} else {
			var s string
			if err := json.Unmarshal(in.Data, &s); err != nil {
				return Record{}, "invalid", `"data": ` + err.Error()
			}
			data = []byte(s)
		}
	default:
		var b bytes.Buffer
		if err := json.Compact(&b, in.Data); err != nil {
			return Record{}, "invalid", `"data": ` + err.Error()
		}
		data = b.Bytes()
	}
	var pk string
	if in.PartitionKey != nil {
		pk = *in.PartitionKey
	}
	return checkRecord(data, pk, in.PartitionKey != nil)
}

// checkRecord validates the partition key (or draws a random one) and the size.
func checkRecord(data []byte, pk string, hasPK bool) (Record, string, string) {
	if hasPK {
		if pk == "" {
			return Record{}, "invalid", `"partitionKey" must not be empty`
		}
		if n := utf8.RuneCountInString(pk); n > MaxPartitionKeyLen {
			return Record{}, "invalid", fmt.Sprintf(`"partitionKey" has %d characters, more than %d`, n, MaxPartitionKeyLen)
		}
	} else {
		pk = randomKey()
	}
	rec := Record{PartitionKey: pk, Data: data, Unordered: !hasPK}
	if len(data)+len(pk) > kpl.MaxRecordSize {
		return Record{}, "too_large", fmt.Sprintf("record of %d bytes (data plus partition key) exceeds the Kinesis limit of %d", len(data)+len(pk), kpl.MaxRecordSize)
	}
	return rec, "", ""
}

// randomKey returns a random UUID v4 text, as the seed producer used.
func randomKey() string {
	const hexd = "0123456789abcdef"
	a, b := rand.Uint64(), rand.Uint64()
	a = a&^(0xf<<12) | 4<<12   // version 4
	b = b&^(0x3<<62) | 0x2<<62 // variant 10
	var out [36]byte
	j := 0
	for i := 0; i < 16; i++ {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		var v byte
		if i < 8 {
			v = byte(a >> (56 - 8*i))
		} else {
			v = byte(b >> (56 - 8*(i-8)))
		}
		out[j], out[j+1] = hexd[v>>4], hexd[v&0xf]
		j += 2
	}
	return string(out[:])
}
