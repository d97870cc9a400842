package changefeed

import (
	"context"
	"slices"
	"strings"
	"testing"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/yokedcache/yoked/catalog"
	yoked "github.com/yokedcache/yoked/driver"
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

// BenchmarkTouchRows measures what keying costs the watcher per row: one
// 10,000-row insert event of a table keyed by an INT UNSIGNED, by table
// and by row (up to maxRowTags rows, then the table).
func BenchmarkTouchRows(b *testing.B) {
	var rows [][]any
	var skipped [][]int
	for i := range 10000 {
		rows = append(rows, []any{int32(i), int32(i)})
		skipped = append(skipped, nil)
	}
	k := &rowKey{table: "app.u", key: []catalog.Column{{Name: "id", Type: "int(10) unsigned", Exact: true}},
		cols: []int{0}, types: []byte{gomysql.MYSQL_TYPE_LONG}, unsigned: []bool{true}}
	for _, bc := range []struct {
		name string
		k    *rowKey
	}{{"table", nil}, {"rows", k}} {
		b.Run(bc.name, func(b *testing.B) {
			m := &mysqlSource{cfg: Config{RowTag: yoked.RowTag, SetTag: yoked.SetTag}}
			for b.Loop() {
				m.touchRows(&commit{}, replication.EnumRowsEventTypeInsert, rows, skipped, bc.k, "table:app.u")
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*maxRowTags), "ns/keyed-row")
		})
	}
}

// touchRows tags the key of every image (an UPDATE's after image only when
// its key differs), counts one event per changed row, and takes the table
// when an image lacks the key or the event is of a kind it does not read.
func TestTouchRows(t *testing.T) {
	k := &rowKey{table: "app.t", key: []catalog.Column{{Name: "id", Type: "int(11)", Exact: true}},
		cols: []int{0}, types: []byte{gomysql.MYSQL_TYPE_LONG}, unsigned: []bool{false}}
	const (
		ins = replication.EnumRowsEventTypeInsert
		upd = replication.EnumRowsEventTypeUpdate
		del = replication.EnumRowsEventTypeDelete
	)
	row := func(id int32) []any { return []any{id, int32(0)} }
	for _, tc := range []struct {
		name    string
		typ     replication.EnumRowsEventType
		rows    [][]any
		skipped [][]int
		k       *rowKey
		want    []string
		events  int
	}{
		{"insert", ins, [][]any{row(1), row(2)}, [][]int{nil, nil}, k, []string{"set:app.t", "row:app.t(id=1)", "row:app.t(id=2)"}, 2},
		{"delete", del, [][]any{row(3)}, [][]int{nil}, k, []string{"set:app.t", "row:app.t(id=3)"}, 1},
		{"update in place", upd, [][]any{row(1), row(1), row(2), row(2)}, [][]int{nil, nil, nil, nil}, k,
			[]string{"set:app.t", "row:app.t(id=1)", "row:app.t(id=2)"}, 2},
		{"key-changing update", upd, [][]any{row(1), row(5)}, [][]int{nil, nil}, k, []string{"set:app.t", "row:app.t(id=1)", "row:app.t(id=5)"}, 1},
		// (the rows tagged before it stay: more than needed, never less)
		{"after image without the key", upd, [][]any{{int32(1), nil}, {nil, int32(9)}}, [][]int{{1}, {0}}, k,
			[]string{"table:app.t", "set:app.t", "row:app.t(id=1)"}, 1},
		{"before image without the key", del, [][]any{{nil, int32(0)}}, [][]int{{0}}, k, []string{"table:app.t"}, 1},
		{"NULL key", ins, [][]any{{nil, int32(0)}}, [][]int{nil}, k, []string{"table:app.t"}, 1},
		{"value of another type", ins, [][]any{{int64(1), int32(0)}}, [][]int{nil}, k, []string{"table:app.t"}, 1},
		{"odd update images", upd, [][]any{row(1)}, [][]int{nil}, k, []string{"table:app.t"}, 1},
		{"unknown kind (partial JSON update)", replication.EnumRowsEventTypeUnknown, [][]any{row(1)}, [][]int{nil}, k, []string{"table:app.t"}, 1},
		{"no key", ins, [][]any{row(1)}, [][]int{nil}, nil, []string{"table:app.t"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &mysqlSource{cfg: Config{RowTag: yoked.RowTag, SetTag: yoked.SetTag}}
			tx := &commit{}
			m.touchRows(tx, tc.typ, tc.rows, tc.skipped, tc.k, "table:app.t")
			var got []string
			for tag := range tx.tags {
				got = append(got, tag)
			}
			slices.Sort(got)
			if want := slices.Sorted(slices.Values(tc.want)); !slices.Equal(got, want) {
				t.Errorf("tags %q, want %q", got, want)
			}
			if tx.events != tc.events {
				t.Errorf("%d events, want %d", tx.events, tc.events)
			}
			// Toward the bound count the row tags, not the images.
			if n, rows := tx.rows["table:app.t"], len(tc.want)-1; tc.want[0] == "set:app.t" && n != rows {
				t.Errorf("%d rows counted toward the bound, want %d", n, rows)
			}
		})
	}
}
