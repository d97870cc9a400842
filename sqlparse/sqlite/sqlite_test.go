package sqlite

import (
	"encoding/json"
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

// TestReadCoverage holds the share of golden reads the grammar reads to
// the end at 98% or more (TestGolden checks that each is classified as its
// want line says). Cases named "not SQLite: …" hold text SQLite refuses
// (driver/sqlite_syntax_test.go checks the others compile) and do not count.
func TestReadCoverage(t *testing.T) {
	reads, parsed := 0, 0
	for _, c := range sqlparsetest.All(t, goldenDir) {
		var want sqlparse.Statement
		if err := json.Unmarshal([]byte(c.Want), &want); err != nil {
			t.Fatalf("%s: %v", c.Pos(), err)
		}
		if want.Kind != sqlparse.KindRead || strings.HasPrefix(c.Name, "not SQLite:") {
			continue
		}
		reads++
		if want.Parsed {
			parsed++
		}
	}
	if reads < 200 || parsed*100 < reads*98 {
		t.Fatalf("%d of %d golden reads parse, want at least 98%% of 200 or more", parsed, reads)
	}
	t.Logf("%d of %d golden reads parse (%.1f%%)", parsed, reads, 100*float64(parsed)/float64(reads))
}

func TestInvariants(t *testing.T) {
	p := New()
	for _, c := range sqlparsetest.All(t, goldenDir) {
		checkInvariants(t, c.SQL, p.Parse(c.SQL))
	}
}

// writeWords are keywords no cacheable read contains outside strings,
// comments and quoted names. SQLite takes those of statementWords as names
// too (SELECT replace FROM t): they count only where a statement starts.
var (
	writeWords     = []string{"INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "INTO", "COMMIT"}
	statementWords = []string{"REPLACE", "PRAGMA", "ATTACH", "DETACH", "VACUUM", "REINDEX", "BEGIN", "ROLLBACK",
		"SAVEPOINT", "RELEASE", "ANALYZE"}
)

// checkInvariants checks the sqlparse contract with the lexer's words as
// a witness independent of the grammar.
func checkInvariants(t *testing.T, sql string, st sqlparse.Statement) {
	t.Helper()
	var found []string
	toks, _ := lex(sql)
	for i, tk := range toks {
		start := i == 0 || toks[i-1].kind == tPunct && toks[i-1].text == ";"
		if tk.kind == tWord && (slices.Contains(writeWords, tk.up) || start && slices.Contains(statementWords, tk.up)) {
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
