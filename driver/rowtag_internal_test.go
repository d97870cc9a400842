package driver

import (
	"database/sql/driver"
	"strings"
	"testing"

	"github.com/yokedcache/yoked/catalog"
	"github.com/yokedcache/yoked/sqlparse"
)

// RowTag names a row exactly as a keyed read of it does, for every value
// form the feeds pass, and refuses what a read would refuse.
func TestRowTagMatchesReads(t *testing.T) {
	id := catalog.Column{Name: "ID", Type: "bigint", Exact: true}
	uid := catalog.Column{Name: "uid", Type: "int unsigned", Exact: true}
	name := catalog.Column{Name: "name", Type: "character varying(20)", Exact: true}
	ci := catalog.Column{Name: "name", Type: "varchar(20)", Collation: "utf8mb4_general_ci"}
	num := catalog.Column{Name: "n", Type: "numeric", Exact: true}
	read := func(cols []catalog.Column, args ...any) string {
		tpl := &rowTemplate{table: "public.users", alts: [][]sqlparse.Value{{}}}
		var nv []driver.NamedValue
		for i, c := range cols {
			tpl.cols = append(tpl.cols, keyCol{kind: keyKindOf(c)})
			tpl.cols[i].name = strings.ToLower(c.Name)
			tpl.alts[0] = append(tpl.alts[0], sqlparse.Value{Param: i + 1})
			nv = append(nv, driver.NamedValue{Ordinal: i + 1, Value: args[i]})
		}
		tags, ok := tpl.tags(nv)
		if !ok {
			return ""
		}
		return tags[0]
	}
	for _, c := range []struct {
		cols    []catalog.Column
		readArg []any // as a reader binds the key
		feedVal []any // as a feed sees it
		ok      bool
	}{
		{[]catalog.Column{id}, []any{int64(42)}, []any{"42"}, true},
		{[]catalog.Column{id}, []any{int64(-7)}, []any{int64(-7)}, true},
		{[]catalog.Column{uid}, []any{uint64(4294967295)}, []any{uint32(4294967295)}, true},
		{[]catalog.Column{uid}, []any{uint64(1 << 63)}, []any{"9223372036854775808"}, true},
		{[]catalog.Column{id, name}, []any{int64(1), "ada"}, []any{int32(1), "ada"}, true},
		{[]catalog.Column{name}, []any{`a"b`}, []any{`a"b`}, true},
		{[]catalog.Column{name}, []any{"pad "}, []any{"pad "}, false},
		{[]catalog.Column{ci}, []any{"ada"}, []any{"ada"}, false},
		{[]catalog.Column{num}, []any{"1"}, []any{"1"}, false},
		{[]catalog.Column{id}, []any{int64(1)}, []any{"01x"}, false},
		{[]catalog.Column{id}, []any{int64(1)}, []any{1.0}, false},
		{[]catalog.Column{id}, []any{int64(1)}, []any{[]byte("1")}, false},
	} {
		got, ok := RowTag("Public.users", c.cols, c.feedVal)
		if ok != c.ok {
			t.Errorf("RowTag(%v, %#v): ok %v, want %v", c.cols, c.feedVal, ok, c.ok)
			continue
		}
		if !ok {
			continue
		}
		if want := read(c.cols, c.readArg...); got != want {
			t.Errorf("RowTag(%v, %#v) = %q, a read of the row carries %q", c.cols, c.feedVal, got, want)
		}
	}
	if _, ok := RowTag("t", []catalog.Column{id}, nil); ok {
		t.Error("RowTag with too few values succeeded")
	}
	if _, ok := RowTag("t", nil, nil); ok {
		t.Error("RowTag without a key succeeded")
	}
}
