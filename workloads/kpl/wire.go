package kpl

import (
	"errors"
	"fmt"
)

// Protobuf wire types used by the format (see protobuf encoding documentation).
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

var errTruncated = errors.New("truncated input")

// uvarintLen returns the number of bytes of the base-128 varint encoding of v.
func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// appendUvarint appends the varint encoding of v to b.
func appendUvarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// appendKey appends a field key (field number and wire type).
func appendKey(b []byte, field int, wire int) []byte {
	return appendUvarint(b, uint64(field)<<3|uint64(wire))
}

// appendBytesField appends a length-delimited field.
func appendBytesField(b []byte, field int, v []byte) []byte {
	b = appendKey(b, field, wireBytes)
	b = appendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendStringField(b []byte, field int, v string) []byte {
	b = appendKey(b, field, wireBytes)
	b = appendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// bytesFieldLen is the encoded size of a length-delimited field with a one-byte key.
func bytesFieldLen(n int) int { return 1 + uvarintLen(uint64(n)) + n }

// reader walks protobuf wire data; every method fails instead of panicking on
// malformed input.
type reader struct {
	b   []byte
	off int
}

func (r *reader) done() bool { return r.off >= len(r.b) }

func (r *reader) uvarint() (uint64, error) {
	var v uint64
	for i := 0; i < 10; i++ {
		if r.off >= len(r.b) {
			return 0, errTruncated
		}
		c := r.b[r.off]
		r.off++
		if i == 9 && c > 1 {
			return 0, errors.New("varint overflows 64 bits")
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, nil
		}
	}
	return 0, errors.New("varint longer than 10 bytes")
}

// key reads a field key and returns field number and wire type.
func (r *reader) key() (int, int, error) {
	k, err := r.uvarint()
	if err != nil {
		return 0, 0, fmt.Errorf("read field key: %w", err)
	}
	field, wire := k>>3, int(k&7)
	if field == 0 || field > 1<<29-1 {
		return 0, 0, fmt.Errorf("invalid field number %d", field)
	}
	return int(field), wire, nil
}

// bytes reads a length-delimited value; the result aliases the input.
func (r *reader) bytes() ([]byte, error) {
	n, err := r.uvarint()
	if err != nil {
		return nil, fmt.Errorf("read length: %w", err)
	}
	if n > uint64(len(r.b)-r.off) {
		return nil, fmt.Errorf("length %d exceeds the %d bytes left: %w", n, len(r.b)-r.off, errTruncated)
	}
	v := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return v, nil
}

// skip skips a field value of the given wire type, so unknown fields are ignored
// as protobuf requires. Groups (wire types 3 and 4, deprecated) are rejected.
func (r *reader) skip(wire int) error {
	switch wire {
	case wireVarint:
		_, err := r.uvarint()
		return err
	case wireFixed64:
		return r.advance(8)
	case wireFixed32:
		return r.advance(4)
	case wireBytes:
		_, err := r.bytes()
		return err
	default:
		return fmt.Errorf("unsupported wire type %d", wire)
	}
}

func (r *reader) advance(n int) error {
	if len(r.b)-r.off < n {
		return errTruncated
	}
	r.off += n
	return nil
}
