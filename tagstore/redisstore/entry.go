package redisstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Entry format, version 1:
//
//	magic 'Y', format 1, 8-byte BE expiry (Unix ms), uvarint ntags,
//	ntags × (uvarint len, tag, 8-byte BE version), value
//
// The value is the Codec's output and takes the rest of the entry. The
// expiry repeats the key's TTL so that a copy in L1 never outlives it.
const (
	entryMagic   = 'Y'
	entryVersion = 1
	maxEntryTags = 4096
)

var errCorrupt = errors.New("redisstore: corrupt entry")

func encodeEntry(expiry time.Time, tags []string, versions []uint64, value []byte) []byte {
	n := 10 + binary.MaxVarintLen64 + len(value)
	for _, t := range tags {
		n += binary.MaxVarintLen64 + len(t) + 8
	}
	b := make([]byte, 0, n)
	b = append(b, entryMagic, entryVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(expiry.UnixMilli()))
	b = binary.AppendUvarint(b, uint64(len(tags)))
	for i, t := range tags {
		b = binary.AppendUvarint(b, uint64(len(t)))
		b = append(b, t...)
		b = binary.BigEndian.AppendUint64(b, versions[i])
	}
	return append(b, value...)
}

// entryView is a decoded entry; tags alias the input.
type entryView struct {
	expiry   time.Time
	tags     []string
	versions []uint64
	value    []byte
}

func decodeEntry(b []byte) (entryView, error) {
	var e entryView
	expiry, value, err := walkEntry(b, func(n int) {
		e.tags = make([]string, 0, n)
		e.versions = make([]uint64, 0, n)
	}, func(tag []byte, version uint64) {
		e.tags = append(e.tags, string(tag))
		e.versions = append(e.versions, version)
	})
	e.expiry, e.value = expiry, value
	return e, err
}

// walkEntry checks the format of the entry b and calls count with its
// number of tags, then each with every tag (aliasing b) and its version, in
// order, and returns the expiry and the value. It allocates nothing itself:
// the hit path compares tags without copying them.
func walkEntry(b []byte, count func(n int), each func(tag []byte, version uint64)) (time.Time, []byte, error) {
	if len(b) < 2 || b[0] != entryMagic {
		return time.Time{}, nil, errCorrupt
	}
	if b[1] != entryVersion {
		return time.Time{}, nil, fmt.Errorf("%w: format %d", errCorrupt, b[1])
	}
	if len(b) < 11 {
		return time.Time{}, nil, errCorrupt
	}
	expiry := time.UnixMilli(int64(binary.BigEndian.Uint64(b[2:])))
	b = b[10:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > maxEntryTags || n > uint64(len(b)) {
		return expiry, nil, errCorrupt
	}
	b = b[k:]
	count(int(n))
	for range n {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) || uint64(len(b)-k)-l < 8 {
			return expiry, nil, errCorrupt
		}
		b = b[k:]
		each(b[:l], binary.BigEndian.Uint64(b[l:]))
		b = b[l+8:]
	}
	return expiry, b, nil
}

// BytesCodec is the default Codec, for the manual API: it stores []byte and
// string values and gives back the same type.
type BytesCodec struct{}

// Marshal accepts []byte and string.
func (BytesCodec) Marshal(v any) ([]byte, error) {
	switch v := v.(type) {
	case []byte:
		return append([]byte{'b'}, v...), nil
	case string:
		return append([]byte{'s'}, v...), nil
	default:
		return nil, fmt.Errorf("redisstore: BytesCodec cannot encode %T (want []byte or string)", v)
	}
}

// Unmarshal returns a fresh []byte or a string.
func (BytesCodec) Unmarshal(b []byte) (any, error) {
	if len(b) == 0 {
		return nil, errors.New("redisstore: BytesCodec: empty input")
	}
	switch b[0] {
	case 'b':
		return append([]byte{}, b[1:]...), nil
	case 's':
		return string(b[1:]), nil
	default:
		return nil, fmt.Errorf("redisstore: BytesCodec: unknown type byte %#x", b[0])
	}
}
