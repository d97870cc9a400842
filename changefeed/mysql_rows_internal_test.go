package changefeed

import (
	"context"
	"strings"
	"testing"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/yokedcache/yoked/catalog"
	"github.com/yokedcache/yoked/sqlparse"
	"github.com/yokedcache/yoked/sqlparse/dialect"
)

// fakeSchema answers the MySQL catalog's queries: database app, its
// primary keys (table, column, type) in key order, and foreign keys
// (referenced table, referencing table) that cascade.
type fakeSchema struct {
	keys [][3]string
	fks  [][2]string
}

func (f fakeSchema) Query(_ context.Context, q string) ([][]string, error) {
	var out [][]string
	switch {
	case strings.Contains(q, "COALESCE(DATABASE(), '')"):
		out = [][]string{{"app"}}
	case strings.Contains(q, "information_schema.STATISTICS"):
		for _, k := range f.keys {
			out = append(out, []string{"app", k[0], k[1]})
		}
	case strings.Contains(q, "COLUMN_KEY = 'PRI'"):
		for _, k := range f.keys {
			out = append(out, []string{k[0], k[1], k[2], ""})
		}
	case strings.Contains(q, "REFERENTIAL_CONSTRAINTS"):
		for _, fk := range f.fks {
			out = append(out, []string{"app", fk[0], "app", fk[1]})
		}
	}
	return out, nil
}

// tableMap is a table map of app.<table> as binlog_row_metadata=FULL
// writes it: its columns (name, binlog type, unsigned) and its primary key
// (column indexes).
func tableMap(table string, cols []mapCol, pk ...uint64) *replication.TableMapEvent {
	tm := &replication.TableMapEvent{Schema: []byte("app"), Table: []byte(table), ColumnCount: uint64(len(cols))}
	var signs []byte
	n := 0
	for _, c := range cols {
		tm.ColumnName = append(tm.ColumnName, []byte(c.name))
		tm.ColumnType = append(tm.ColumnType, c.typ)
		tm.ColumnMeta = append(tm.ColumnMeta, 0)
		if c.typ != gomysql.MYSQL_TYPE_VARCHAR {
			if n%8 == 0 {
				signs = append(signs, 0)
			}
			if c.unsigned {
				signs[n/8] |= 0x80 >> (n % 8)
			}
			n++
		}
	}
	tm.SignednessBitmap = signs
	tm.PrimaryKey = pk
	tm.PrimaryKeyPrefix = make([]uint64, len(pk))
	return tm
}

type mapCol struct {
	name     string
	typ      byte
	unsigned bool
}

// keyOf reads a row's key only from a table map whose key is, column for
// column, the catalog's, of integer types signed as the catalog says, from
// a catalog valid at the event, for a table whose writes stay in their rows.
func TestKeyOf(t *testing.T) {
	parser, err := dialect.For(sqlparse.DialectMySQL)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Load(context.Background(), sqlparse.DialectMySQL, fakeSchema{
		keys: [][3]string{
			{"t", "id", "int(11)"},
			{"u", "id", "int(10) unsigned"},
			{"c", "b", "int(11)"}, {"c", "a", "int(11)"},
			{"s", "k", "varchar(10)"},
			{"self", "id", "int(11)"},
		},
		fks: [][2]string{{"self", "self"}},
	}, parser, nil)
	if err != nil {
		t.Fatal(err)
	}
	casc := &cascades{cat: cat}
	const (
		long    = gomysql.MYSQL_TYPE_LONG
		varchar = gomysql.MYSQL_TYPE_VARCHAR
	)
	id := []mapCol{{"id", long, false}, {"v", long, false}}
	uid := []mapCol{{"id", long, true}, {"v", long, false}}
	ab := []mapCol{{"a", long, false}, {"b", long, false}}
	noNames := tableMap("t", id, 0)
	noNames.ColumnName = nil
	noSigns := tableMap("t", id, 0)
	noSigns.SignednessBitmap = nil
	prefix := tableMap("t", id, 0)
	prefix.PrimaryKeyPrefix = []uint64{4}
	for _, tc := range []struct {
		name    string
		tm      *replication.TableMapEvent
		trusted bool
		want    []int // key columns' indexes; nil: table-level
	}{
		{"key as the catalog's", tableMap("t", id, 0), true, []int{0}},
		{"catalog older than the event", tableMap("t", id, 0), false, nil},
		{"no column names (MINIMAL metadata)", noNames, true, nil},
		{"no primary key (MINIMAL metadata)", tableMap("t", id), true, nil},
		{"no signedness", noSigns, true, nil},
		{"key prefix", prefix, true, nil},
		{"another key column than the catalog's", tableMap("t", id, 1), true, nil},
		{"key names in another case", tableMap("t", []mapCol{{"ID", long, false}}, 0), true, []int{0}},
		{"unsigned as the catalog says", tableMap("u", uid, 0), true, []int{0}},
		{"unsigned where the catalog says signed", tableMap("t", uid, 0), true, nil},
		{"signed where the catalog says unsigned", tableMap("u", id, 0), true, nil},
		{"composite key in key order", tableMap("c", ab, 1, 0), true, []int{1, 0}},
		{"composite key in another order", tableMap("c", ab, 0, 1), true, nil},
		{"part of the catalog's key", tableMap("c", ab, 1), true, nil},
		{"more than the catalog's key", tableMap("t", id, 0, 1), true, nil},
		{"character key", tableMap("s", []mapCol{{"k", varchar, false}}, 0), true, nil},
		{"integer key in the event, other type in the catalog", tableMap("s", []mapCol{{"k", long, false}}, 0), true, nil},
		{"not row-local (cascade into itself)", tableMap("self", id, 0), true, nil},
		{"table the catalog has no key of", tableMap("x", id, 0), true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := casc.keyOf(tc.tm, tc.trusted)
			switch {
			case tc.want == nil && k != nil:
				t.Fatalf("keyed by columns %v, want table-level", k.cols)
			case tc.want != nil && k == nil:
				t.Fatal("table-level, want keyed")
			case tc.want != nil && (len(k.cols) != len(tc.want) || k.table != "app."+string(tc.tm.Table)):
				t.Fatalf("keyed %s by columns %v, want app.%s by %v", k.table, k.cols, tc.tm.Table, tc.want)
			}
			for i := range tc.want {
				if k.cols[i] != tc.want[i] {
					t.Fatalf("key columns %v, want %v", k.cols, tc.want)
				}
			}
		})
	}
}

// intValue undoes go-mysql's signed decoding of unsigned columns, per width.
func TestIntValue(t *testing.T) {
	for _, tc := range []struct {
		v        any
		typ      byte
		unsigned bool
		want     any
	}{
		{int8(-1), gomysql.MYSQL_TYPE_TINY, true, uint64(255)},
		{int8(-1), gomysql.MYSQL_TYPE_TINY, false, int64(-1)},
		{int16(-1), gomysql.MYSQL_TYPE_SHORT, true, uint64(65535)},
		{int32(-1), gomysql.MYSQL_TYPE_INT24, true, uint64(16777215)},
		{int32(-8388608), gomysql.MYSQL_TYPE_INT24, false, int64(-8388608)},
		{int32(-1), gomysql.MYSQL_TYPE_LONG, true, uint64(4294967295)},
		{int32(-2147483648), gomysql.MYSQL_TYPE_LONG, true, uint64(2147483648)},
		{int64(-1), gomysql.MYSQL_TYPE_LONGLONG, true, uint64(18446744073709551615)},
		{int64(-1), gomysql.MYSQL_TYPE_LONGLONG, false, int64(-1)},
		{"1", gomysql.MYSQL_TYPE_LONG, false, nil},          // not what the table map says
		{int64(1), gomysql.MYSQL_TYPE_LONG, false, nil},     // idem
		{"a", gomysql.MYSQL_TYPE_VARCHAR, false, nil},       // not an integer column
		{nil, gomysql.MYSQL_TYPE_LONGLONG, false, nil},      // NULL or left out
		{float64(1), gomysql.MYSQL_TYPE_DOUBLE, false, nil}, // not an integer column
	} {
		got, ok := intValue(tc.v, tc.typ, tc.unsigned)
		if ok != (tc.want != nil) || got != tc.want {
			t.Errorf("intValue(%T %v, type %d, unsigned %v) = %T %v, %v; want %T %v", tc.v, tc.v, tc.typ, tc.unsigned, got, got, ok, tc.want, tc.want)
		}
	}
}
