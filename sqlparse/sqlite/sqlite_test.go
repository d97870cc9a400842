package sqlite

import (
	"slices"
	"strings"
	"testing"

	"github.com/yokedcache/yoked/sqlparse"
	"github.com/yokedcache/yoked/sqlparse/sqlparsetest"
)

const goldenDir = "../../testdata/sqlparse/sqlite"

func TestGolden(t *testing.T) {
	sqlparsetest.Run(t, New(), goldenDir)
	if n := len(sqlparsetest.All(t, goldenDir)); n < 60 {
		t.Errorf("only %d golden cases", n)
	}
}

func TestInvariants(t *testing.T) {
	p := New()
	for _, c := range sqlparsetest.All(t, goldenDir) {
		checkInvariants(t, c.SQL, p.Parse(c.SQL))
	}
}

// writeWords are keywords no cacheable read contains outside strings,
// comments and quoted names.
var writeWords = []string{"INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER", "PRAGMA",
	"ATTACH", "DETACH", "VACUUM", "REINDEX", "INTO", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"}

// checkInvariants checks the sqlparse contract with the lexer's words as
// a witness independent of the grammar.
func checkInvariants(t *testing.T, sql string, st sqlparse.Statement) {
	t.Helper()
	var found []string
	toks, _ := lex(sql)
	for _, tk := range toks {
		if tk.kind == tWord && slices.Contains(writeWords, tk.up) {
			found = append(found, tk.up)
		}
	}
	sqlparsetest.Check(t, sql, st, found)
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
		checkInvariants(t, sql, p.Parse(sql))
	})
}

func BenchmarkParse(b *testing.B) {
	p := New()
	sql := "SELECT u.id, u.name, o.total FROM users u JOIN orders o ON o.user_id = u.id WHERE u.id = ?1 AND o.status IN (SELECT s FROM states WHERE active = 1) ORDER BY o.id DESC LIMIT 10"
	b.ReportAllocs()
	for b.Loop() {
		p.Parse(sql)
	}
}
