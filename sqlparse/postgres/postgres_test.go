package postgres

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/yokedcache/yoked/sqlparse"
)

// Until the shared harness (sqlparse/sqlparsetest) lands, the golden files
// are read here. Format: "-- name: …", the SQL, "-- want:", the JSON of the
// expected sqlparse.Statement, repeated.

var update = flag.Bool("update", false, "rewrite the want JSON of the golden files (review the diff by hand)")

const goldenDir = "../../testdata/sqlparse/postgres"

type golden struct {
	name, sql, want string
}

func readGolden(t testing.TB, path string) []golden {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cases []golden
	for _, block := range strings.Split(string(b), "-- name: ")[1:] {
		name, rest, _ := strings.Cut(block, "\n")
		sql, want, ok := strings.Cut(rest, "-- want:\n")
		if !ok {
			t.Fatalf("%s: case %q has no -- want:", path, name)
		}
		cases = append(cases, golden{
			name: strings.TrimSpace(name),
			sql:  strings.TrimSuffix(sql, "\n"),
			want: strings.TrimSpace(want),
		})
	}
	return cases
}

func goldenFiles(t testing.TB) []string {
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files in %s (%v)", goldenDir, err)
	}
	return files
}

func TestGolden(t *testing.T) {
	p := New()
	total := 0
	for _, file := range goldenFiles(t) {
		cases := readGolden(t, file)
		total += len(cases)
		var out bytes.Buffer
		for _, c := range cases {
			got := p.Parse(c.sql)
			gotJSON, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&out, "-- name: %s\n%s\n-- want:\n%s\n\n", c.name, c.sql, gotJSON)
			if *update {
				continue
			}
			t.Run(filepath.Base(file)+"/"+c.name, func(t *testing.T) {
				var want sqlparse.Statement
				if err := json.Unmarshal([]byte(c.want), &want); err != nil {
					t.Fatalf("bad want JSON: %v", err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s\n got %s\nwant %s", c.sql, gotJSON, c.want)
				}
			})
		}
		if *update {
			if err := os.WriteFile(file, out.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if total < 70 {
		t.Errorf("only %d golden cases", total)
	}
}

// TestInvariants checks on every golden case what holds for any input.
func TestInvariants(t *testing.T) {
	p := New()
	for _, file := range goldenFiles(t) {
		for _, c := range readGolden(t, file) {
			checkInvariants(t, c.sql, p.Parse(c.sql))
		}
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
	tree, err := pg.ParseToJSON(sql)
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
	for _, file := range goldenFiles(f) {
		for _, c := range readGolden(f, file) {
			f.Add(c.sql)
		}
	}
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
		// The share of the cost that is pg_query itself (cgo, protobuf).
		b.Run(bc.name+"/pg_query_only", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := pg.Parse(bc.sql); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
