package driver

import (
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/yokedcache/yoked/tagstore"
)

var _ tagstore.Codec = resultCodec{}

// resultCodec is the tagstore.Codec of cached results (*result), for stores
// that keep values outside the process.
//
// Format (version 1), all integers varint/uvarint, strings and byte slices
// prefixed with their length:
//
//	version byte
//	size varint
//	ncols uvarint, then per column: name, scanType name ("" for none),
//	    dbType, length, precision, scale varints, flags uvarint
//	nrows uvarint, then ncols values per row: a tag byte and its payload
//
// Values are the driver.Value types and the other numeric types base drivers
// return (float32, uint64, int, int8…int32, uint, uint8…uint32); each comes
// back as the type it went in. Tags added later leave older encodings valid.
//
// Unmarshal checks every count and length against the bytes left, so it
// allocates in proportion to its input; it rejects trailing bytes, unknown
// tags, scan types not registered in this process and zones it cannot load.
type resultCodec struct{}

const codecVersion = 1

// Value tags.
const (
	tagNil byte = iota
	tagInt64
	tagFloat64
	tagFalse
	tagTrue
	tagBytes
	tagNilBytes // []byte(nil), distinct from nil
	tagString
	tagTime
	// Types outside driver.Value that base drivers return all the same
	// (go-sql-driver/mysql: float32 for FLOAT, uint64 for BIGINT UNSIGNED),
	// kept so that a hit gives back the very type of the miss.
	tagFloat32
	tagUint64
	tagInt
	tagInt8
	tagInt16
	tagInt32
	tagUint
	tagUint8
	tagUint16
	tagUint32
)

// Zone kinds of a time value.
const (
	zoneUTC byte = iota
	zoneLocal
	zoneFixed // name and offset
	zoneNamed // IANA name, loaded with time.LoadLocation
)

// colType flag bits.
const (
	flagHasDBType = 1 << iota
	flagLengthOK
	flagHasLength
	flagNullable
	flagNullableOK
	flagHasNullable
	flagPSOK
	flagHasPS
)

var errCorrupt = errors.New("yoked: corrupt cached result")

// Marshal encodes a *result. It fails, and the result is then not cached,
// on a value whose type is not a driver.Value, a row whose width is not the
// number of columns, or a time whose zone cannot be rebuilt by name or offset.
func (resultCodec) Marshal(v any) ([]byte, error) {
	r, ok := v.(*result)
	if !ok || r == nil {
		return nil, fmt.Errorf("yoked: codec cannot encode %T", v)
	}
	if len(r.types) != len(r.cols) && len(r.types) != 0 {
		return nil, fmt.Errorf("yoked: codec: %d column types for %d columns", len(r.types), len(r.cols))
	}
	if len(r.cols) == 0 && len(r.rows) > 0 {
		return nil, errors.New("yoked: codec: rows without columns")
	}
	b := make([]byte, 0, 64+r.size+16*len(r.cols)*(len(r.rows)+1))
	b = append(b, codecVersion)
	b = binary.AppendVarint(b, int64(r.size))
	b = binary.AppendUvarint(b, uint64(len(r.cols)))
	b = binary.AppendUvarint(b, uint64(len(r.types)))
	for _, c := range r.cols {
		b = appendString(b, c)
	}
	for i := range r.types {
		var err error
		if b, err = appendColType(b, &r.types[i]); err != nil {
			return nil, err
		}
	}
	b = binary.AppendUvarint(b, uint64(len(r.rows)))
	for i, row := range r.rows {
		if len(row) != len(r.cols) {
			return nil, fmt.Errorf("yoked: codec: row %d has %d values for %d columns", i, len(row), len(r.cols))
		}
		for j, v := range row {
			var err error
			if b, err = appendValue(b, v); err != nil {
				return nil, fmt.Errorf("yoked: codec: row %d column %d: %w", i, j, err)
			}
		}
	}
	return b, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendColType(b []byte, c *colType) ([]byte, error) {
	name := ""
	if c.scanType != nil {
		var err error
		if name, err = scanTypeName(c.scanType); err != nil {
			return nil, err
		}
	}
	b = appendString(b, name)
	b = appendString(b, c.dbType)
	b = binary.AppendVarint(b, c.length)
	b = binary.AppendVarint(b, c.precision)
	b = binary.AppendVarint(b, c.scale)
	var f uint64
	for _, x := range []struct {
		set  bool
		flag uint64
	}{
		{c.hasDBType, flagHasDBType}, {c.lengthOK, flagLengthOK}, {c.hasLength, flagHasLength},
		{c.nullable, flagNullable}, {c.nullableOK, flagNullableOK}, {c.hasNullable, flagHasNullable},
		{c.psOK, flagPSOK}, {c.hasPS, flagHasPS},
	} {
		if x.set {
			f |= x.flag
		}
	}
	return binary.AppendUvarint(b, f), nil
}

func appendValue(b []byte, v driver.Value) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, tagNil), nil
	case int64:
		return binary.AppendVarint(append(b, tagInt64), v), nil
	case float64:
		return binary.LittleEndian.AppendUint64(append(b, tagFloat64), math.Float64bits(v)), nil
	case bool:
		if v {
			return append(b, tagTrue), nil
		}
		return append(b, tagFalse), nil
	case []byte:
		if v == nil {
			return append(b, tagNilBytes), nil
		}
		b = binary.AppendUvarint(append(b, tagBytes), uint64(len(v)))
		return append(b, v...), nil
	case string:
		return appendString(append(b, tagString), v), nil
	case time.Time:
		return appendTime(b, v)
	case float32:
		return binary.LittleEndian.AppendUint32(append(b, tagFloat32), math.Float32bits(v)), nil
	case uint64:
		return binary.AppendUvarint(append(b, tagUint64), v), nil
	case int:
		return binary.AppendVarint(append(b, tagInt), int64(v)), nil
	case int8:
		return binary.AppendVarint(append(b, tagInt8), int64(v)), nil
	case int16:
		return binary.AppendVarint(append(b, tagInt16), int64(v)), nil
	case int32:
		return binary.AppendVarint(append(b, tagInt32), int64(v)), nil
	case uint:
		return binary.AppendUvarint(append(b, tagUint), uint64(v)), nil
	case uint8:
		return binary.AppendUvarint(append(b, tagUint8), uint64(v)), nil
	case uint16:
		return binary.AppendUvarint(append(b, tagUint16), uint64(v)), nil
	case uint32:
		return binary.AppendUvarint(append(b, tagUint32), uint64(v)), nil
	}
	return nil, fmt.Errorf("value of type %T is not cacheable", v)
}

func appendTime(b []byte, t time.Time) ([]byte, error) {
	sec, nsec := t.Unix(), t.Nanosecond()
	if !time.Unix(sec, int64(nsec)).Equal(t) {
		return nil, fmt.Errorf("time %v is out of range", t)
	}
	b = append(b, tagTime)
	b = binary.AppendVarint(b, sec)
	b = binary.AppendUvarint(b, uint64(nsec))
	z, err := zoneOf(t.Location())
	if err != nil {
		return nil, err
	}
	b = append(b, z.kind)
	switch z.kind {
	case zoneFixed:
		b = appendString(b, z.name)
		b = binary.AppendVarint(b, int64(z.offset))
	case zoneNamed:
		b = appendString(b, z.name)
	}
	return b, nil
}

// Unmarshal decodes what Marshal produced. Any other input is an error.
// Strings of the result share one copy of the input; []byte values are
// copied each.
func (resultCodec) Unmarshal(b []byte) (any, error) {
	d := decoder{b: b}
	if v := d.byte(); d.err == nil && v != codecVersion {
		return nil, fmt.Errorf("yoked: cached result has format version %d, want %d", v, codecVersion)
	}
	d.s = string(b)
	r := &result{}
	size := d.varint()
	if size < 0 || size > math.MaxInt32 {
		d.fail()
	}
	r.size = int(size)
	ncols := d.count(1)
	ntypes := d.count(1)
	if d.err == nil && ntypes != 0 && ntypes != ncols {
		d.fail()
	}
	if d.err == nil && ncols > 0 {
		r.cols = make([]string, ncols)
		for i := range r.cols {
			r.cols[i] = d.string()
		}
	}
	if d.err == nil && ntypes > 0 {
		r.types = make([]colType, ntypes)
		for i := range r.types {
			d.colType(&r.types[i])
		}
	}
	nrows := d.count(max(ncols, 1))
	if d.err == nil && nrows > 0 {
		if ncols == 0 {
			d.fail()
		} else {
			r.rows = make([][]driver.Value, nrows)
			slab := make([]driver.Value, nrows*ncols)
			for i := range r.rows {
				row := slab[i*ncols : (i+1)*ncols : (i+1)*ncols]
				for j := range row {
					row[j] = d.value()
				}
				r.rows[i] = row
			}
		}
	}
	if d.err == nil && d.off != len(d.b) {
		d.fail()
	}
	if d.err != nil {
		return nil, d.err
	}
	return r, nil
}

// decoder reads the format from b at off; s holds the same bytes as b, for
// strings. After the first error every read returns a zero value and the
// error sticks.
type decoder struct {
	b   []byte
	s   string
	off int
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
	d.off = len(d.b)
}

func (d *decoder) left() int { return len(d.b) - d.off }

func (d *decoder) byte() byte {
	if d.left() == 0 {
		d.fail()
		return 0
	}
	d.off++
	return d.b[d.off-1]
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail()
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		d.fail()
		return 0
	}
	d.off += n
	return v
}

// count reads a number of items that take at least each bytes apiece and
// fails if the bytes left cannot hold them.
func (d *decoder) count(each int) int {
	n := d.uvarint()
	if d.err != nil || n > uint64(d.left()/each) {
		d.fail()
		return 0
	}
	return int(n)
}

// span reads a length and returns the bounds of that many bytes.
func (d *decoder) span() (int, int) {
	n := d.uvarint()
	if d.err != nil || n > uint64(d.left()) {
		d.fail()
		return d.off, d.off
	}
	i := d.off
	d.off += int(n)
	return i, d.off
}

func (d *decoder) string() string {
	i, j := d.span()
	return d.s[i:j]
}

func (d *decoder) colType(c *colType) {
	if i, j := d.span(); j > i {
		t, ok := scanTypeByName(d.b[i:j])
		if !ok && d.err == nil {
			d.err = fmt.Errorf("yoked: cached result has scan type %q, unknown in this process", d.s[i:j])
			d.off = len(d.b)
		}
		c.scanType = t
	}
	c.dbType = d.string()
	c.length = d.varint()
	c.precision = d.varint()
	c.scale = d.varint()
	f := d.uvarint()
	if f >= flagHasPS<<1 {
		d.fail()
	}
	c.hasDBType = f&flagHasDBType != 0
	c.lengthOK = f&flagLengthOK != 0
	c.hasLength = f&flagHasLength != 0
	c.nullable = f&flagNullable != 0
	c.nullableOK = f&flagNullableOK != 0
	c.hasNullable = f&flagHasNullable != 0
	c.psOK = f&flagPSOK != 0
	c.hasPS = f&flagHasPS != 0
}

func (d *decoder) value() driver.Value {
	switch d.byte() {
	case tagNil:
		return nil
	case tagInt64:
		return d.varint()
	case tagFloat64:
		if d.left() < 8 {
			d.fail()
			return nil
		}
		d.off += 8
		return math.Float64frombits(binary.LittleEndian.Uint64(d.b[d.off-8:]))
	case tagFalse:
		return false
	case tagTrue:
		return true
	case tagBytes:
		i, j := d.span()
		if d.err != nil {
			return nil
		}
		return append(make([]byte, 0, j-i), d.b[i:j]...)
	case tagNilBytes:
		return []byte(nil)
	case tagString:
		return d.string()
	case tagTime:
		return d.time()
	case tagFloat32:
		if d.left() < 4 {
			d.fail()
			return nil
		}
		d.off += 4
		return math.Float32frombits(binary.LittleEndian.Uint32(d.b[d.off-4:]))
	case tagUint64:
		return d.uvarint()
	case tagInt:
		return int(d.ranged(math.MinInt, math.MaxInt))
	case tagInt8:
		return int8(d.ranged(math.MinInt8, math.MaxInt8))
	case tagInt16:
		return int16(d.ranged(math.MinInt16, math.MaxInt16))
	case tagInt32:
		return int32(d.ranged(math.MinInt32, math.MaxInt32))
	case tagUint:
		return uint(d.uranged(math.MaxUint))
	case tagUint8:
		return uint8(d.uranged(math.MaxUint8))
	case tagUint16:
		return uint16(d.uranged(math.MaxUint16))
	case tagUint32:
		return uint32(d.uranged(math.MaxUint32))
	}
	d.fail()
	return nil
}

// ranged reads a varint that must lie in [lo, hi].
func (d *decoder) ranged(lo, hi int64) int64 {
	v := d.varint()
	if v < lo || v > hi {
		d.fail()
		return 0
	}
	return v
}

// uranged reads a uvarint that must not exceed hi.
func (d *decoder) uranged(hi uint64) uint64 {
	v := d.uvarint()
	if v > hi {
		d.fail()
		return 0
	}
	return v
}

func (d *decoder) time() driver.Value {
	sec := d.varint()
	nsec := d.uvarint()
	kind := d.byte()
	if d.err != nil || nsec >= 1e9 {
		d.fail()
		return nil
	}
	var loc *time.Location
	switch kind {
	case zoneUTC:
		loc = time.UTC
	case zoneLocal:
		loc = time.Local
	case zoneFixed:
		name := d.string()
		off := d.varint()
		if d.err != nil || off < math.MinInt32 || off > math.MaxInt32 {
			d.fail()
			return nil
		}
		loc = fixedZone(name, int(off))
	case zoneNamed:
		name := d.string()
		if d.err != nil {
			return nil
		}
		var err error
		if loc, err = namedZone(name); err != nil {
			d.err = fmt.Errorf("yoked: cached result has time zone %q: %w", name, err)
			d.off = len(d.b)
			return nil
		}
	default:
		d.fail()
		return nil
	}
	return time.Unix(sec, int64(nsec)).In(loc)
}

// Time zones. A location is encoded by IANA name when loading that name
// gives back the same zones, else as a fixed zone when it has one offset and
// its zone is named like itself, else not at all (Marshal fails).

type zone struct {
	kind   byte
	name   string
	offset int
}

// maxCached bounds each of the caches below; past it, work is redone.
const maxCached = 1024

var zoneCache struct {
	byLoc        sync.Map // *time.Location -> zone
	byLocN       atomic.Int64
	fixed        sync.Map // fixedKey -> *time.Location
	fixedN       atomic.Int64
	named        sync.Map // string -> *time.Location
	namedFailure sync.Map // string -> error, bounded by namedFailN
	namedFailN   atomic.Int64
}

type fixedKey struct {
	name   string
	offset int
}

// zoneProbes are instants at which two locations must agree to be the same.
var zoneProbes = func() []time.Time {
	var ps []time.Time
	for _, y := range []int{1900, 1950, 1970, 1985, 2000, 2010, 2020, 2025, 2030, 2040, 2070, 2100} {
		ps = append(ps,
			time.Date(y, time.January, 15, 12, 0, 0, 0, time.UTC),
			time.Date(y, time.July, 15, 12, 0, 0, 0, time.UTC))
	}
	return ps
}()

func zoneOf(loc *time.Location) (zone, error) {
	switch loc {
	case time.UTC:
		return zone{kind: zoneUTC}, nil
	case time.Local:
		return zone{kind: zoneLocal}, nil
	}
	if z, ok := zoneCache.byLoc.Load(loc); ok {
		return z.(zone), nil
	}
	z, err := classifyZone(loc)
	if err != nil {
		return zone{}, err
	}
	if zoneCache.byLocN.Add(1) <= maxCached {
		zoneCache.byLoc.Store(loc, z)
	}
	return z, nil
}

func classifyZone(loc *time.Location) (zone, error) {
	name := loc.String()
	if named, err := namedZone(name); err == nil && sameZones(loc, named) {
		return zone{kind: zoneNamed, name: name}, nil
	}
	abbr, off := zoneProbes[0].In(loc).Zone()
	if abbr == name && sameZones(loc, time.FixedZone(abbr, off)) {
		return zone{kind: zoneFixed, name: name, offset: off}, nil
	}
	return zone{}, fmt.Errorf("yoked: codec: time zone %q can be rebuilt neither by name nor by offset", name)
}

func sameZones(a, b *time.Location) bool {
	for _, p := range zoneProbes {
		an, ao := p.In(a).Zone()
		bn, bo := p.In(b).Zone()
		if an != bn || ao != bo {
			return false
		}
	}
	return true
}

func fixedZone(name string, offset int) *time.Location {
	k := fixedKey{name, offset}
	if l, ok := zoneCache.fixed.Load(k); ok {
		return l.(*time.Location)
	}
	l := time.FixedZone(name, offset)
	if zoneCache.fixedN.Add(1) <= maxCached {
		zoneCache.fixed.Store(k, l)
	}
	return l
}

// namedZone is time.LoadLocation with its results cached: successes always
// (there are as many as zones in the database), failures up to maxCached.
// "" and "Local" are refused: they are not names of a zone.
func namedZone(name string) (*time.Location, error) {
	if l, ok := zoneCache.named.Load(name); ok {
		return l.(*time.Location), nil
	}
	if err, ok := zoneCache.namedFailure.Load(name); ok {
		return nil, err.(error)
	}
	if name == "" || name == "Local" {
		return nil, errors.New("not a zone name")
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		if zoneCache.namedFailN.Add(1) <= maxCached {
			zoneCache.namedFailure.Store(name, err)
		}
		return nil, err
	}
	zoneCache.named.Store(name, l)
	return l, nil
}

// Scan types travel by name: the package path and name of a named type,
// built up for pointers, slices, arrays and maps. A name resolves only to a
// type registered in this process; two types with one name resolve to
// neither, and results using them are not cached.

// scanTypes is replaced whole on each registration, so reads take no lock.
var scanTypes struct {
	sync.Mutex // serialises registrations
	reg        atomic.Pointer[scanTypeRegistry]
}

type scanTypeRegistry struct {
	byName map[string]reflect.Type // nil value: ambiguous name
	byType map[reflect.Type]string
}

func init() {
	scanTypes.reg.Store(&scanTypeRegistry{byName: map[string]reflect.Type{}, byType: map[reflect.Type]string{}})
	for _, t := range []reflect.Type{
		reflect.TypeFor[int](), reflect.TypeFor[int8](), reflect.TypeFor[int16](),
		reflect.TypeFor[int32](), reflect.TypeFor[int64](),
		reflect.TypeFor[uint](), reflect.TypeFor[uint8](), reflect.TypeFor[uint16](),
		reflect.TypeFor[uint32](), reflect.TypeFor[uint64](),
		reflect.TypeFor[float32](), reflect.TypeFor[float64](), reflect.TypeFor[bool](),
		reflect.TypeFor[string](), reflect.TypeFor[[]byte](), reflect.TypeFor[sql.RawBytes](),
		reflect.TypeFor[time.Time](), reflect.TypeFor[any](),
		reflect.TypeFor[sql.NullString](), reflect.TypeFor[sql.NullInt64](), reflect.TypeFor[sql.NullInt32](),
		reflect.TypeFor[sql.NullInt16](), reflect.TypeFor[sql.NullByte](), reflect.TypeFor[sql.NullFloat64](),
		reflect.TypeFor[sql.NullBool](), reflect.TypeFor[sql.NullTime](),
	} {
		registerScanType(t)
	}
}

// registerScanType makes t decodable by name in this process. The driver
// calls it for every scan type a base driver reports; Marshal calls it too.
func registerScanType(t reflect.Type) {
	if t == nil {
		return
	}
	if _, ok := scanTypes.reg.Load().byType[t]; ok {
		return
	}
	scanTypes.Lock()
	defer scanTypes.Unlock()
	old := scanTypes.reg.Load()
	if _, ok := old.byType[t]; ok {
		return
	}
	reg := &scanTypeRegistry{byName: maps.Clone(old.byName), byType: maps.Clone(old.byType)}
	name := typeName(t)
	reg.byType[t] = name
	if prev, ok := reg.byName[name]; ok && prev != t {
		reg.byName[name] = nil
	} else {
		reg.byName[name] = t
	}
	scanTypes.reg.Store(reg)
}

// scanTypeName registers t and returns its name, or an error when another
// type has the same name.
func scanTypeName(t reflect.Type) (string, error) {
	reg := scanTypes.reg.Load()
	name, ok := reg.byType[t]
	if !ok {
		registerScanType(t)
		reg = scanTypes.reg.Load()
		name = reg.byType[t]
	}
	if reg.byName[name] != t {
		return "", fmt.Errorf("yoked: codec: scan type name %q is shared by several types", name)
	}
	return name, nil
}

func scanTypeByName(name []byte) (reflect.Type, bool) {
	t := scanTypes.reg.Load().byName[string(name)]
	return t, t != nil
}

func typeName(t reflect.Type) string {
	if t.Name() != "" {
		if p := t.PkgPath(); p != "" {
			return p + "." + t.Name()
		}
		return t.Name()
	}
	switch t.Kind() {
	case reflect.Pointer:
		return "*" + typeName(t.Elem())
	case reflect.Slice:
		return "[]" + typeName(t.Elem())
	case reflect.Array:
		return "[" + strconv.Itoa(t.Len()) + "]" + typeName(t.Elem())
	case reflect.Map:
		return "map[" + typeName(t.Key()) + "]" + typeName(t.Elem())
	}
	return t.String()
}
