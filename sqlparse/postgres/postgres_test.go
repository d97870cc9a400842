package postgres

import (
	"reflect"
	"strings"
	"testing"

	"github.com/yokedcache/yoked/sqlparse"
	"github.com/yokedcache/yoked/sqlparse/sqlparsetest"
)

const goldenDir = "../../testdata/sqlparse/postgres"

func TestGolden(t *testing.T) {
	sqlparsetest.Run(t, New(), goldenDir)
	if n := len(sqlparsetest.All(t, goldenDir)); n < 70 {
		t.Errorf("only %d golden cases", n)
	}
}

// TestInvariants checks on every golden case what holds for any input.
func TestInvariants(t *testing.T) {
	p := New()
	for _, c := range sqlparsetest.All(t, goldenDir) {
		checkInvariants(t, c.SQL, p.Parse(c.SQL))
	}
}

// checkInvariants asserts the sqlparse contract, using pg_query's JSON tree
// as an independent witness of DML anywhere in the text.
func checkInvariants(t *testing.T, sql string, st sqlparse.Statement) {
	t.Helper()
	if st.Cacheable {
		if st.Kind != sqlparse.KindRead || st.AllTables || len(st.Writes) > 0 || st.Reason != "" || !st.Parsed {
			t.Fatalf("%q: cacheable but %+v", sql, st)
		}
	} else if st.Reason == "" {
		t.Fatalf("%q: not cacheable without a reason", sql)
	}
	tree, err := parseJSON(sql)
	if err != nil {
		if st.Parsed {
			t.Fatalf("%q: pg_query rejects it (%v) but Parsed=true", sql, err)
		}
		return
	}
	for _, w := range []string{`"InsertStmt"`, `"UpdateStmt"`, `"DeleteStmt"`, `"MergeStmt"`} {
		if strings.Contains(tree, w) && st.Cacheable {
			t.Fatalf("%q: contains %s but is cacheable", sql, w)
		}
		if strings.Contains(tree, w) && !strings.Contains(tree, `"ExplainStmt"`) &&
			!strings.Contains(tree, `"PrepareStmt"`) && len(st.Writes) == 0 && !st.AllTables {
			t.Fatalf("%q: contains %s but names no write: %+v", sql, w, st)
		}
	}
}

func TestIdentifiers(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"s", []string{"s"}},
		{"Public.My_Seq", []string{"public", "my_seq"}},
		{`"Seq"`, []string{"Seq"}},
		{`"a.b"."c""d"`, []string{"a.b", `c"d`}},
		{" x . y ", []string{"x", "y"}},
		{"", nil},
		{`"open`, nil},
		{"a..b", nil},
		{`"a"b`, nil},
	}
	for _, tt := range tests {
		got, ok := identifiers(tt.in)
		if !reflect.DeepEqual(got, tt.want) || ok != (tt.want != nil) {
			t.Errorf("identifiers(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	sqlparsetest.FuzzSeeds(f, goldenDir)
	p := New()
	f.Fuzz(func(t *testing.T, sql string) {
		checkInvariants(t, sql, p.Parse(sql))
	})
}

func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct{ name, sql string }{
		{"pk", "SELECT id, name, email FROM users WHERE id = $1"},
		{"join3", "SELECT u.name, o.total, i.sku FROM users u JOIN orders o ON o.user_id = u.id " +
			"LEFT JOIN items i ON i.order_id = o.id WHERE u.id = $1 ORDER BY o.created_at DESC LIMIT 20"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := New()
			b.ReportAllocs()
			for b.Loop() {
				if st := p.Parse(bc.sql); !st.Cacheable {
					b.Fatal(st.Reason)
				}
			}
		})
		// What the driver pays for a text it has seen: the plan cache.
		b.Run(bc.name+"/cached", func(b *testing.B) {
			p := sqlparse.NewCache(New(), 1024)
			p.Parse(bc.sql)
			b.ReportAllocs()
			for b.Loop() {
				p.Parse(bc.sql)
			}
		})
		// The share of the cost that is pg_query itself (cgo or wasm, protobuf).
		b.Run(bc.name+"/pg_query_only", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := parseTree(bc.sql); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
