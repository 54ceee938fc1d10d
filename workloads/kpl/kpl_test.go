package kpl

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
)

// handWritten is an AggregatedRecord body written field by field from the
// published format (aggregation-format.md), not produced by Encode.
func handWritten(t testing.TB) []byte {
	t.Helper()
	body := strings.Join([]string{
		"0a 01 61", // partition_key_table[0] = "a"   (field 1, wire 2)
		"0a 01 62", // partition_key_table[1] = "b"
		"12 01 31", // explicit_hash_key_table[0] = "1" (field 2, wire 2)
		// records[0]: Record{partition_key_index 0, data "hi"} (field 3, wire 2, 6 bytes)
		"1a 06", "08 00", "1a 02 68 69",
		// records[1]: Record{partition_key_index 1, explicit_hash_key_index 0, data "yo"}
		"1a 08", "08 01", "10 00", "1a 02 79 6f",
		// records[2]: Record{partition_key_index 0, data "", tags [Tag{key "k", value "v"}]}
		"1a 0c", "08 00", "1a 00", "22 06 0a 01 6b 12 01 76",
		// unknown field 15 (varint 150): must be skipped
		"78 96 01",
	}, " ")
	b, err := hex.DecodeString(strings.ReplaceAll(body, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func aggregate(body []byte) []byte {
	sum := md5.Sum(body)
	out := append([]byte{0xF3, 0x89, 0x9A, 0xC2}, body...)
	return append(out, sum[:]...)
}

func TestDecodeHandWritten(t *testing.T) {
	got, err := Decode(aggregate(handWritten(t)))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	want := []UserRecord{
		{PartitionKey: "a", Data: []byte("hi")},
		{PartitionKey: "b", ExplicitHashKey: "1", Data: []byte("yo")},
		{PartitionKey: "a", Data: []byte{}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].PartitionKey != want[i].PartitionKey || got[i].ExplicitHashKey != want[i].ExplicitHashKey || !bytes.Equal(got[i].Data, want[i].Data) {
			t.Errorf("record %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestEncodeMatchesHandWritten checks that Encode writes the canonical layout:
// tables first, then records, in insertion order.
func TestEncodeMatchesHandWritten(t *testing.T) {
	body, _ := hex.DecodeString("0a01610a01621201311a0608001a0268691a08080110001a02796f")
	got, err := Encode([]UserRecord{
		{PartitionKey: "a", Data: []byte("hi")},
		{PartitionKey: "b", ExplicitHashKey: "1", Data: []byte("yo")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := aggregate(body); !bytes.Equal(got, want) {
		t.Fatalf("Encode =\n%x\nwant\n%x", got, want)
	}
}

func TestRoundTrip(t *testing.T) {
	var recs []UserRecord
	for i := 0; i < 300; i++ {
		r := UserRecord{PartitionKey: fmt.Sprintf("key-%d", i%7), Data: bytes.Repeat([]byte{byte(i)}, i)}
		if i%5 == 0 {
			r.ExplicitHashKey = fmt.Sprintf("%d", i%3)
		}
		recs = append(recs, r)
	}
	b, err := Encode(recs)
	if err != nil {
		t.Fatal(err)
	}
	if !IsAggregated(b) {
		t.Fatal("IsAggregated = false for an encoded record")
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(recs) {
		t.Fatalf("got %d records, want %d", len(got), len(recs))
	}
	for i := range recs {
		if got[i].PartitionKey != recs[i].PartitionKey || got[i].ExplicitHashKey != recs[i].ExplicitHashKey || !bytes.Equal(got[i].Data, recs[i].Data) {
			t.Fatalf("record %d differs: %+v vs %+v", i, got[i], recs[i])
		}
	}
}

func TestAggregatorSizeIsExact(t *testing.T) {
	var a Aggregator
	for i := 0; i < 1000; i++ {
		r := UserRecord{PartitionKey: fmt.Sprintf("pk-%d", i%13), Data: bytes.Repeat([]byte("x"), i%300)}
		if i%4 == 0 {
			r.ExplicitHashKey = fmt.Sprintf("%d", i%9)
		}
		predicted := a.SizeWith(r)
		a.Add(r)
		enc := a.AppendEncoded(nil)
		if got := len(enc) + len(a.PartitionKey()); got != predicted || got != a.Size() {
			t.Fatalf("after %d adds: encoded size %d, SizeWith said %d, Size says %d", i+1, got, predicted, a.Size())
		}
	}
	a.Reset()
	if a.Len() != 0 || a.Size() != 0 || a.PartitionKey() != "" {
		t.Fatalf("Reset left Len %d Size %d", a.Len(), a.Size())
	}
	a.Add(UserRecord{PartitionKey: "z", Data: []byte("1")})
	got, err := Decode(a.AppendEncoded(nil))
	if err != nil || len(got) != 1 || got[0].PartitionKey != "z" {
		t.Fatalf("after Reset: %+v, %v", got, err)
	}
}

func TestDeaggregate(t *testing.T) {
	agg := aggregate(handWritten(t))
	t.Run("aggregated", func(t *testing.T) {
		got, err := Deaggregate("outer", agg)
		if err != nil || len(got) != 3 || got[1].PartitionKey != "b" {
			t.Fatalf("got %+v, %v", got, err)
		}
	})
	t.Run("plain record", func(t *testing.T) {
		got, err := Deaggregate("outer", []byte("hello"))
		if err != nil || len(got) != 1 || got[0].PartitionKey != "outer" || string(got[0].Data) != "hello" {
			t.Fatalf("got %+v, %v", got, err)
		}
	})
	t.Run("digest mismatch is a plain record", func(t *testing.T) {
		bad := bytes.Clone(agg)
		bad[len(bad)-1] ^= 0xff
		got, err := Deaggregate("outer", bad)
		if err != nil || len(got) != 1 || !bytes.Equal(got[0].Data, bad) {
			t.Fatalf("got %+v, %v", got, err)
		}
		if _, err := Decode(bad); err == nil {
			t.Fatal("Decode accepted a digest mismatch")
		}
	})
	t.Run("bad protobuf behind good digest", func(t *testing.T) {
		if _, err := Deaggregate("outer", aggregate([]byte{0x1a, 0x05, 0x08})); err == nil {
			t.Fatal("want error")
		}
	})
}

func TestDecodeRejectsMalformed(t *testing.T) {
	cases := map[string]string{
		"truncated length":          "0a05 61",
		"pk index out of range":     "0a0161 1a04 0801 1a00",
		"ehk index out of range":    "0a0161 1a06 0800 1000 1a00",
		"missing data":              "0a0161 1a02 0800",
		"missing pk index":          "0a0161 1a02 1a00",
		"wrong wire type for table": "0801",
		"varint overflow":           "78 ffffffffffffffffff7f",
		"group wire type":           "7b",
		"field zero":                "00 00",
		"tag without key":           "0a0161 1a08 0800 1a00 2202 1201",
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			b, err := hex.DecodeString(strings.ReplaceAll(h, " ", ""))
			if err != nil {
				t.Fatal(err)
			}
			if got, err := Decode(aggregate(b)); err == nil {
				t.Fatalf("Decode accepted malformed input, got %+v", got)
			}
		})
	}
	if _, err := Decode([]byte{0xF3, 0x89, 0x9A}); err == nil {
		t.Fatal("Decode accepted a short input")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(aggregate(handWritten(f)))
	enc, _ := Encode([]UserRecord{{PartitionKey: "k", Data: []byte("v")}})
	f.Add(enc)
	f.Add([]byte("plain"))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := Decode(data)
		if err != nil {
			return
		}
		// Whatever decodes must survive a round trip through Encode.
		if len(recs) == 0 {
			return
		}
		for _, r := range recs {
			if r.PartitionKey == "" {
				return
			}
		}
		b, err := Encode(recs)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, err := Decode(b)
		if err != nil || len(again) != len(recs) {
			t.Fatalf("re-decode: %d records, %v", len(again), err)
		}
		for i := range recs {
			if again[i].PartitionKey != recs[i].PartitionKey || again[i].ExplicitHashKey != recs[i].ExplicitHashKey || !bytes.Equal(again[i].Data, recs[i].Data) {
				t.Fatalf("record %d changed in round trip", i)
			}
		}
	})
}
