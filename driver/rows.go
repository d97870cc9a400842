package driver

import (
	"context"
	"database/sql/driver"
	"io"
	"reflect"
	"time"

	"github.com/yokedcache/yoked/tagstore"
)

// Every rows type of yoked implements every optional rows interface. Where the
// base rows lack one, the answer is the one database/sql gives without it
// (ScanType any, empty type name, ok=false), so ColumnTypes reads the same.
var (
	_ driver.RowsNextResultSet              = (*fwdRows)(nil)
	_ driver.RowsColumnTypeScanType         = (*fwdRows)(nil)
	_ driver.RowsColumnTypeDatabaseTypeName = (*fwdRows)(nil)
	_ driver.RowsColumnTypeLength           = (*fwdRows)(nil)
	_ driver.RowsColumnTypeNullable         = (*fwdRows)(nil)
	_ driver.RowsColumnTypePrecisionScale   = (*fwdRows)(nil)

	_ driver.RowsNextResultSet              = (*cachedRows)(nil)
	_ driver.RowsColumnTypeScanType         = (*cachedRows)(nil)
	_ driver.RowsColumnTypeDatabaseTypeName = (*cachedRows)(nil)
	_ driver.RowsColumnTypeLength           = (*cachedRows)(nil)
	_ driver.RowsColumnTypeNullable         = (*cachedRows)(nil)
	_ driver.RowsColumnTypePrecisionScale   = (*cachedRows)(nil)
)

var anyType = reflect.TypeFor[any]()

// fwdRows forwards to base rows.
type fwdRows struct{ base driver.Rows }

func fwd(r driver.Rows) fwdRows { return fwdRows{base: r} }

func (r *fwdRows) Columns() []string              { return r.base.Columns() }
func (r *fwdRows) Close() error                   { return r.base.Close() }
func (r *fwdRows) Next(dest []driver.Value) error { return r.base.Next(dest) }

func (r *fwdRows) HasNextResultSet() bool {
	if n, ok := r.base.(driver.RowsNextResultSet); ok {
		return n.HasNextResultSet()
	}
	return false
}

func (r *fwdRows) NextResultSet() error {
	if n, ok := r.base.(driver.RowsNextResultSet); ok {
		return n.NextResultSet()
	}
	return io.EOF
}

func (r *fwdRows) ColumnTypeScanType(i int) reflect.Type {
	if x, ok := r.base.(driver.RowsColumnTypeScanType); ok {
		return x.ColumnTypeScanType(i)
	}
	return anyType
}

func (r *fwdRows) ColumnTypeDatabaseTypeName(i int) string {
	if x, ok := r.base.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return x.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *fwdRows) ColumnTypeLength(i int) (int64, bool) {
	if x, ok := r.base.(driver.RowsColumnTypeLength); ok {
		return x.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *fwdRows) ColumnTypeNullable(i int) (bool, bool) {
	if x, ok := r.base.(driver.RowsColumnTypeNullable); ok {
		return x.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *fwdRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if x, ok := r.base.(driver.RowsColumnTypePrecisionScale); ok {
		return x.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}

// colTypes records what the base rows report for each column.
func (r *fwdRows) colTypes(n int) []colType {
	ts := make([]colType, n)
	_, hasScan := r.base.(driver.RowsColumnTypeScanType)
	_, hasDB := r.base.(driver.RowsColumnTypeDatabaseTypeName)
	_, hasLen := r.base.(driver.RowsColumnTypeLength)
	_, hasNull := r.base.(driver.RowsColumnTypeNullable)
	_, hasPS := r.base.(driver.RowsColumnTypePrecisionScale)
	for i := range ts {
		t := &ts[i]
		// A base's nil is kept (modernc.org/sqlite reports nil for a NULL
		// column); a base without the method reads as any, as database/sql
		// reports it.
		t.scanType = r.ColumnTypeScanType(i)
		if hasScan {
			registerScanType(t.scanType) // so results from other processes decode here
		}
		t.hasDBType, t.hasLength, t.hasNullable, t.hasPS = hasDB, hasLen, hasNull, hasPS
		t.dbType = r.ColumnTypeDatabaseTypeName(i)
		t.length, t.lengthOK = r.ColumnTypeLength(i)
		t.nullable, t.nullableOK = r.ColumnTypeNullable(i)
		t.precision, t.scale, t.psOK = r.ColumnTypePrecisionScale(i)
	}
	return ts
}

// cachedRows serves a stored result. Each hit gets its own cursor; the
// result is shared and never written.
type cachedRows struct {
	res *result
	i   int
	// inline holds the copy of the column names for narrow results, so that
	// a hit allocates once.
	inline [6]string
}

func (r *cachedRows) Columns() []string {
	// database/sql hands this slice to the application: give it a copy.
	if n := len(r.res.cols); n <= len(r.inline) {
		c := r.inline[:n:n]
		copy(c, r.res.cols)
		return c
	}
	return append([]string(nil), r.res.cols...)
}

func (r *cachedRows) Close() error { return nil }

func (r *cachedRows) Next(dest []driver.Value) error {
	if r.i >= len(r.res.rows) {
		return io.EOF
	}
	row := r.res.rows[r.i]
	r.i++
	for j, v := range row {
		if b, ok := v.([]byte); ok {
			// The application may scan into sql.RawBytes and write to it.
			v = append([]byte(nil), b...)
		}
		dest[j] = v
	}
	return nil
}

func (r *cachedRows) HasNextResultSet() bool { return false }
func (r *cachedRows) NextResultSet() error   { return io.EOF }

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type { return r.res.types[i].scanType }

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string { return r.res.types[i].dbType }

func (r *cachedRows) ColumnTypeLength(i int) (int64, bool) {
	t := &r.res.types[i]
	return t.length, t.lengthOK
}

func (r *cachedRows) ColumnTypeNullable(i int) (bool, bool) {
	t := &r.res.types[i]
	return t.nullable, t.nullableOK
}

func (r *cachedRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	t := &r.res.types[i]
	return t.precision, t.scale, t.psOK
}

// recRows passes the base rows through to the application unchanged and
// records a copy of every row. The result is stored only when it is
// complete: the base returned io.EOF with no error, without a further result
// set, within the size limits. When the application closes early (QueryRow),
// Close reads the rest itself, up to the limits.
type recRows struct {
	fwdRows
	c     *connector
	key   string
	stamp tagstore.Stamp
	ttl   time.Duration

	cols   []string
	types  []colType // as the base reports them before the first Next
	rows   [][]driver.Value
	size   int
	done   bool // stored, abandoned or finished: record nothing more
	closed bool
}

func newRecRows(base driver.Rows, c *connector, key string, stamp tagstore.Stamp, ttl time.Duration) *recRows {
	r := &recRows{fwdRows: fwd(base), c: c, key: key, stamp: stamp, ttl: ttl, cols: base.Columns()}
	// Recorded now, where an application reads them: a base whose types
	// follow the current row (modernc.org/sqlite) has none left at io.EOF.
	r.types = r.colTypes(len(r.cols))
	return r
}

func (r *recRows) Next(dest []driver.Value) error {
	err := r.base.Next(dest)
	if !r.done {
		r.record(dest, err)
	}
	return err
}

func (r *recRows) record(dest []driver.Value, err error) {
	switch {
	case err == io.EOF:
		r.finish()
	case err != nil:
		r.abandon(skipIncomplete)
	default:
		if len(r.rows) >= r.c.cfg.MaxRows {
			r.abandon(skipTooLarge)
			return
		}
		row := make([]driver.Value, len(dest))
		size := 24
		for i, v := range dest {
			switch x := v.(type) {
			case nil, int64, float64, bool, float32, uint64, int, int8, int16, int32, uint, uint8, uint16, uint32:
				// Base drivers return more than driver.Value
				// (go-sql-driver/mysql: float32, uint64); the codec keeps
				// each type.
				row[i] = x
				size += 16
			case []byte:
				row[i] = append([]byte(nil), x...) // the base may reuse its buffer
				size += 40 + len(x)
			case string:
				row[i] = v // v, not x: boxing x again would allocate
				size += 32 + len(x)
			case time.Time:
				row[i] = v
				size += 40
			default:
				r.abandon(skipValueType)
				return
			}
		}
		r.size += size
		if r.size > r.c.cfg.MaxResultBytes {
			r.abandon(skipTooLarge)
			return
		}
		r.rows = append(r.rows, row)
	}
}

func (r *recRows) abandon(reason string) {
	r.done = true
	r.rows = nil
	r.c.cache.stats.skip(reason)
}

func (r *recRows) finish() {
	r.done = true
	if r.HasNextResultSet() {
		r.rows = nil
		r.c.cache.stats.skip(skipNotCached)
		return
	}
	cols := append([]string(nil), r.cols...)
	res := &result{cols: cols, types: r.types, rows: r.rows, size: r.size + 64*len(cols) + len(r.key)}
	r.rows = nil
	r.c.store(r.key, res, r.stamp, r.ttl)
}

func (r *recRows) NextResultSet() error {
	if !r.done {
		r.abandon(skipNotCached)
	}
	return r.fwdRows.NextResultSet()
}

func (r *recRows) Close() error {
	if r.closed {
		return r.base.Close()
	}
	r.closed = true
	if !r.done {
		dest := make([]driver.Value, len(r.cols))
		for !r.done {
			r.record(dest, r.base.Next(dest))
		}
	}
	return r.base.Close()
}

// writeRows are the rows of a write (INSERT … RETURNING): the statement may
// only complete, and commit, once its rows are consumed, so its tables are
// invalidated again on Close.
type writeRows struct {
	fwdRows
	cn   *conn
	p    *plan
	tags []string // the write tags of its arguments
	ctx  context.Context
}

func (r *writeRows) Close() error {
	err := r.base.Close()
	cn := r.cn
	switch {
	case cn.tx != nil:
		// Collected already; the commit invalidates.
	case cn.sticky:
		cn.flushDirty(r.ctx)
	default:
		cn.c.invalidate(r.ctx, r.tags, r.p.writeAll)
	}
	if r.p.changesSchema() {
		// DDL sent through Query: the connection is free again now.
		cn.schemaChanged(r.ctx)
	}
	return err
}
