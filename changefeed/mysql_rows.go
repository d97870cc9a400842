package changefeed

import (
	"slices"
	"strings"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/yokedcache/yoked/catalog"
	"github.com/yokedcache/yoked/sqlparse"
)

// Row tags from the row binlog (Config.RowTag). A rows event invalidates
// the row tag of each changed row (the before image's key and, for an
// UPDATE, the after image's) and the table's set tag only when all of this
// holds; otherwise it invalidates the table's tag, as without RowTag:
//
//   - its table map carries the full metadata (binlog_row_metadata=FULL):
//     column names, signedness and the primary key, without prefixes;
//   - that key is, column for column, the primary key of the watcher's
//     catalog (which reads the keys of the connection's database only), and
//     the catalog is valid at the event: the event was written after the
//     catalog was read (cascades.since; the catalog is read at the start of
//     a session and after each DDL in the stream, so an event between a DDL
//     and the position at its reload, and the events a session reads before
//     its catalog, are table-level);
//   - every key column is an integer (TINYINT to BIGINT, signed or not as
//     the catalog says), so the value decoded is the value readers bind:
//     strings compare under collations (PAD SPACE, _ci) the binlog does not
//     show, and the catalog refuses them anyway;
//   - the table is catalog.RowLocal: InnoDB logs no row its foreign-key
//     actions change, so a cascade into the table itself, or anything else
//     that may change rows beside those logged, takes the table;
//   - each image holds the whole key: a DELETE's and an UPDATE's before
//     image always do (binlog_row_image=MINIMAL keeps the key); an UPDATE's
//     after image under MINIMAL holds only the columns the statement
//     assigned, and reading a key left out as unchanged would trust that the
//     server logs every key it changes (a stored generated column, say), so
//     an UPDATE whose after image lacks a key column is table-level.
//
// Tables that a foreign key's action reaches from the changed one stay
// table-level (cascades.of), as do rows past maxRowTags per table and
// transaction (commit.touchRow).

// rowKey reads the primary key of the rows of one table map.
type rowKey struct {
	table    string           // relation name, for RowTag and SetTag
	key      []catalog.Column // the catalog's primary key
	cols     []int            // per key column, its index in a row image
	types    []byte           // per key column, its binlog type
	unsigned []bool           // per key column
}

// keyOf returns how to read the primary key of tm's rows, or nil when its
// rows are invalidated by table (see the top of this file). trusted says
// whether the catalog is valid at the event.
func (c *cascades) keyOf(tm *replication.TableMapEvent, trusted bool) *rowKey {
	if !trusted || tm == nil || len(tm.PrimaryKey) == 0 || len(tm.ColumnName) != int(tm.ColumnCount) ||
		len(tm.PrimaryKeyPrefix) != len(tm.PrimaryKey) {
		return nil
	}
	rel := c.cat.Resolve(sqlparse.Table{Schema: string(tm.Schema), Name: string(tm.Table)})
	key, ok := c.cat.PrimaryKey(rel)
	if !ok || len(key) != len(tm.PrimaryKey) || !c.cat.RowLocal(rel) {
		return nil
	}
	signs := tm.UnsignedMap()
	k := &rowKey{table: rel, key: key}
	for i, pk := range tm.PrimaryKey {
		col := int(pk)
		if pk >= tm.ColumnCount || col >= len(tm.ColumnType) || tm.PrimaryKeyPrefix[i] != 0 ||
			!strings.EqualFold(string(tm.ColumnName[col]), key[i].Name) {
			return nil
		}
		typ := tm.ColumnType[col]
		switch typ {
		case gomysql.MYSQL_TYPE_TINY, gomysql.MYSQL_TYPE_SHORT, gomysql.MYSQL_TYPE_INT24,
			gomysql.MYSQL_TYPE_LONG, gomysql.MYSQL_TYPE_LONGLONG:
		default:
			return nil
		}
		unsigned, known := signs[col]
		if !known || !intColumn(key[i]) || unsigned != strings.HasSuffix(key[i].Type, " unsigned") {
			return nil
		}
		k.cols = append(k.cols, col)
		k.types = append(k.types, typ)
		k.unsigned = append(k.unsigned, unsigned)
	}
	return k
}

// intColumn reports whether the catalog has c as an integer column.
func intColumn(c catalog.Column) bool {
	base, _, _ := strings.Cut(c.Type, "(")
	base, _, _ = strings.Cut(base, " ")
	switch base {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint":
		return c.Exact
	}
	return false
}

// values returns the key of one row image in the catalog's key order, or
// false when the image leaves out a key column (skipped) or holds a value
// of another type than its table map says.
func (k *rowKey) values(row []any, skipped []int) ([]any, bool) {
	out := make([]any, len(k.cols))
	for i, col := range k.cols {
		if col >= len(row) || slices.Contains(skipped, col) {
			return nil, false
		}
		v, ok := intValue(row[col], k.types[i], k.unsigned[i])
		if !ok {
			return nil, false
		}
		out[i] = v
	}
	return out, true
}

// intValue is an integer as the column holds it. go-mysql decodes every
// integer as signed, so an INT UNSIGNED 4294967295 arrives as int32(-1).
func intValue(v any, typ byte, unsigned bool) (any, bool) {
	switch typ {
	case gomysql.MYSQL_TYPE_TINY:
		if n, ok := v.(int8); ok {
			if unsigned {
				return uint64(uint8(n)), true
			}
			return int64(n), true
		}
	case gomysql.MYSQL_TYPE_SHORT:
		if n, ok := v.(int16); ok {
			if unsigned {
				return uint64(uint16(n)), true
			}
			return int64(n), true
		}
	case gomysql.MYSQL_TYPE_INT24:
		if n, ok := v.(int32); ok {
			if unsigned {
				return uint64(uint32(n) & 0xFFFFFF), true
			}
			return int64(n), true
		}
	case gomysql.MYSQL_TYPE_LONG:
		if n, ok := v.(int32); ok {
			if unsigned {
				return uint64(uint32(n)), true
			}
			return int64(n), true
		}
	case gomysql.MYSQL_TYPE_LONGLONG:
		if n, ok := v.(int64); ok {
			if unsigned {
				return uint64(n), true
			}
			return n, true
		}
	}
	return nil, false
}

// touchRows adds the rows of one rows event of a table tagged tableTag to
// tx (typ, rows and skipped as the event has them): by row when k reads
// their keys (nil: it does not), else the table.
func (m *mysqlSource) touchRows(tx *commit, typ replication.EnumRowsEventType, rows [][]any, skipped [][]int, k *rowKey, tableTag string) {
	step := 1
	switch typ {
	case replication.EnumRowsEventTypeInsert, replication.EnumRowsEventTypeDelete:
	case replication.EnumRowsEventTypeUpdate:
		step = 2 // before and after images
	default:
		k = nil
	}
	events := tx.events + max(1, len(rows)/step) // one per changed row
	if k != nil && m.cfg.RowTag != nil && len(rows)%step == 0 && len(skipped) == len(rows) {
		set := m.cfg.SetTag(k.table)
		var before string
		for i, row := range rows {
			if _, whole := tx.tags[tableTag]; whole {
				break // past the bound: rows no longer matter
			}
			vals, ok := k.values(row, skipped[i])
			var tag string
			if ok {
				tag, ok = m.cfg.RowTag(k.table, k.key, vals)
			}
			if !ok {
				k = nil
				break
			}
			if step == 2 && i%2 == 1 && tag == before {
				continue // the key did not change
			}
			before = tag
			tx.touchRow(tableTag, set, tag)
		}
	} else {
		k = nil
	}
	if k == nil {
		tx.touch(tableTag)
	}
	tx.events = events
}
