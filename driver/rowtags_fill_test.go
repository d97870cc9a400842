package driver

import (
	"database/sql/driver"
	"slices"
	"testing"

	"github.com/yokedcache/yoked/sqlparse"
)

// tags fills each alternative's key columns, in key order, separated by
// commas, after the plan's other tags; a value that cannot be normalised
// gives no row tags at all.
func TestRowTemplateTags(t *testing.T) {
	tmpl := &rowTemplate{
		table: "t",
		cols:  []keyCol{{name: "a", kind: keyInt}, {name: "b", kind: keyText}},
		alts: [][]sqlparse.Value{
			{{Param: 1}, {Param: 2}},
			{{Literal: "007"}, {Literal: "a long text key, longer than sixty-four bytes, written in one go", Quoted: true}},
		},
		base: []string{"table:t", "set:u"},
	}
	args := []driver.NamedValue{{Ordinal: 1, Value: int64(42)}, {Ordinal: 2, Value: "x"}}
	got, ok := tmpl.tags(args)
	want := []string{"table:t", "set:u", `row:t(a=42,b="x")`,
		`row:t(a=7,b="a long text key, longer than sixty-four bytes, written in one go")`}
	if !ok || !slices.Equal(got, want) {
		t.Fatalf("tags = %q, %v; want %q", got, ok, want)
	}
	if got, ok := tmpl.tags([]driver.NamedValue{{Ordinal: 1, Value: 1.5}, {Ordinal: 2, Value: "x"}}); ok {
		t.Fatalf("a float key gave %q", got)
	}
}
