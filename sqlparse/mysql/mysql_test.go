package mysql

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pingcap/tidb/pkg/parser"

	"github.com/yokedcache/yoked/sqlparse"
	"github.com/yokedcache/yoked/sqlparse/sqlparsetest"
)

const goldenDir = "../../testdata/sqlparse/mysql"

func TestGolden(t *testing.T) {
	sqlparsetest.Run(t, New(), goldenDir)
	if n := len(sqlparsetest.All(t, goldenDir)); n < 60 {
		t.Errorf("only %d golden cases", n)
	}
}

func TestInvariants(t *testing.T) {
	p := New()
	for _, c := range sqlparsetest.All(t, goldenDir) {
		CheckInvariants(t, c.SQL, p.Parse(c.SQL))
	}
}

// writeWords are keywords no cacheable read contains outside strings,
// comments and quoted names.
var writeWords = []string{"insert", "update", "delete", "replace", "create", "drop", "alter", "truncate",
	"rename", "call", "load", "set", "into", "lock", "grant", "revoke", "handler", "do"}

// CheckInvariants checks the sqlparse contract with the TiDB lexer as a
// witness independent of the walk: write keywords left once comments and
// literals are normalised away.
func CheckInvariants(t *testing.T, sql string, st sqlparse.Statement) {
	t.Helper()
	var found []string
	words := strings.FieldsFunc(parser.Normalize(sql, "ON"), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '`')
	})
	for _, w := range words {
		if slices.Contains(writeWords, w) {
			found = append(found, w)
		}
	}
	sqlparsetest.Check(t, sql, st, found)
}

// TestConcurrent shares one Parser between goroutines (run with -race).
func TestConcurrent(t *testing.T) {
	p := New()
	cases := sqlparsetest.All(t, goldenDir)
	want := make([]string, len(cases))
	for i, c := range cases {
		want[i] = sqlparsetest.Diff(p.Parse(c.SQL), sqlparse.Statement{})
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range cases {
				c := cases[(i+g*7)%len(cases)]
				if d := sqlparsetest.Diff(p.Parse(c.SQL), sqlparse.Statement{}); d != want[(i+g*7)%len(cases)] {
					t.Errorf("%s: concurrent parse differs", c.Name)
				}
			}
		})
	}
	wg.Wait()
}

func TestLargeInputIsConservative(t *testing.T) {
	sql := "SELECT * FROM t WHERE a IN (" + strings.Repeat("1,", 100000) + "1); DELETE FROM t"
	st := New().Parse(sql)
	if st.Cacheable || len(st.Writes) == 0 && !st.AllTables {
		t.Fatalf("got %+v", st)
	}
}

func FuzzParse(f *testing.F) {
	sqlparsetest.FuzzSeeds(f, goldenDir)
	p := New()
	f.Fuzz(func(t *testing.T, sql string) {
		CheckInvariants(t, sql, p.Parse(sql))
	})
}

func BenchmarkParse(b *testing.B) {
	p := New()
	sql := "SELECT u.id, u.name, o.total FROM users u JOIN orders o ON o.user_id = u.id WHERE u.id = ? AND o.status IN (SELECT s FROM states WHERE active = 1) ORDER BY o.id DESC LIMIT 10"
	b.ReportAllocs()
	for b.Loop() {
		p.Parse(sql)
	}
}

func BenchmarkParseCached(b *testing.B) {
	p := sqlparse.NewCache(New(), 1024)
	sql := "SELECT u.id, u.name, o.total FROM users u JOIN orders o ON o.user_id = u.id WHERE u.id = ? AND o.status IN (SELECT s FROM states WHERE active = 1) ORDER BY o.id DESC LIMIT 10"
	p.Parse(sql)
	b.ReportAllocs()
	for b.Loop() {
		p.Parse(sql)
	}
}
