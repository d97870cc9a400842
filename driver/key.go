package driver

import (
	"database/sql/driver"
	"encoding/binary"
	"math"
	"time"
)

// Argument type bytes in a cache key: int64(1) and "1" must never share a key.
const (
	argNil byte = iota + 1
	argInt64
	argFloat64
	argBool
	argBytes
	argString
	argTime
	argInt
	argInt32
	argInt16
	argInt8
	argUint64
	argUint
	argUint32
	argUint16
	argUint8
	argFloat32
)

// appendKey appends the cache key of a query to b: the connector's identity,
// the scope, the statement text and every argument with its type. It returns
// ok=false when an argument has a type whose value cannot be keyed exactly;
// such a query is not cached.
func appendKey(b []byte, identity, scope, query string, args []driver.NamedValue) ([]byte, bool) {
	b = appendStr(b, identity)
	b = appendStr(b, scope)
	b = appendStr(b, query)
	for i := range args {
		a := &args[i]
		b = binary.AppendUvarint(b, uint64(a.Ordinal))
		b = appendStr(b, a.Name)
		switch v := a.Value.(type) {
		case nil:
			b = append(b, argNil)
		case int64:
			b = binary.LittleEndian.AppendUint64(append(b, argInt64), uint64(v))
		case float64:
			b = binary.LittleEndian.AppendUint64(append(b, argFloat64), math.Float64bits(v))
		case bool:
			c := byte(0)
			if v {
				c = 1
			}
			b = append(b, argBool, c)
		case []byte:
			if v == nil {
				b = append(b, argBytes, 0)
			} else {
				b = appendStr(append(b, argBytes, 1), string(v))
			}
		case string:
			b = appendStr(append(b, argString), v)
		case time.Time:
			tb, err := v.MarshalBinary()
			if err != nil {
				return b, false
			}
			b = appendStr(append(b, argTime), string(tb))
			b = appendStr(b, v.Location().String())
		case int:
			b = binary.LittleEndian.AppendUint64(append(b, argInt), uint64(v))
		case int32:
			b = binary.LittleEndian.AppendUint64(append(b, argInt32), uint64(v))
		case int16:
			b = binary.LittleEndian.AppendUint64(append(b, argInt16), uint64(v))
		case int8:
			b = binary.LittleEndian.AppendUint64(append(b, argInt8), uint64(v))
		case uint64:
			b = binary.LittleEndian.AppendUint64(append(b, argUint64), v)
		case uint:
			b = binary.LittleEndian.AppendUint64(append(b, argUint), uint64(v))
		case uint32:
			b = binary.LittleEndian.AppendUint64(append(b, argUint32), uint64(v))
		case uint16:
			b = binary.LittleEndian.AppendUint64(append(b, argUint16), uint64(v))
		case uint8:
			b = append(b, argUint8, v)
		case float32:
			b = binary.LittleEndian.AppendUint32(append(b, argFloat32), math.Float32bits(v))
		default:
			return b, false
		}
	}
	return b, true
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}
