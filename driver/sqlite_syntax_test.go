package driver_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"testing"

	"github.com/yokedcache/yoked/sqlparse"
	"github.com/yokedcache/yoked/sqlparse/sqlparsetest"
)

// TestSQLiteGoldenIsSQLite compiles every single-statement case of the
// SQLite golden corpus on real SQLite: a case the parser reads
// (parsed:true) must be SQLite's syntax, so the corpus does not grade the
// parser on text SQLite would refuse. Errors other than syntax errors (no
// such table, …) are expected: the corpus names tables nobody created.
// Cases named "not SQLite: …" must be refused by SQLite: the parser's
// coverage figure leaves them out.
func TestSQLiteGoldenIsSQLite(t *testing.T) {
	db, err := sql.Open("sqlite3", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	refused, checked := 0, 0
	for _, c := range sqlparsetest.All(t, "../testdata/sqlparse/sqlite") {
		var want sqlparse.Statement
		if err := json.Unmarshal([]byte(c.Want), &want); err != nil {
			t.Fatalf("%s: %v", c.Pos(), err)
		}
		if strings.Contains(c.SQL, ";") || strings.TrimSpace(c.SQL) == "" || strings.HasPrefix(strings.TrimSpace(c.SQL), "--") {
			continue
		}
		checked++
		st, err := db.PrepareContext(ctx, c.SQL)
		if err == nil {
			st.Close()
		}
		syntax := err != nil && (strings.Contains(err.Error(), "syntax error") ||
			strings.Contains(err.Error(), "unrecognized token") || strings.Contains(err.Error(), "incomplete input"))
		switch {
		case strings.HasPrefix(c.Name, "not SQLite:") && !syntax:
			t.Errorf("%s: %s: named not SQLite, but SQLite compiles it (err %v)", c.Pos(), c.Name, err)
		case syntax && want.Parsed && (want.Kind == sqlparse.KindRead || want.Kind == sqlparse.KindWrite):
			t.Errorf("%s: %s: marked parsed but SQLite refuses it: %v\n%s", c.Pos(), c.Name, err, c.SQL)
		case !syntax && !want.Parsed && want.Kind == sqlparse.KindRead:
			refused++
			t.Logf("%s: %s: SQLite compiles this read, the parser does not (err %v)", c.Pos(), c.Name, err)
		}
	}
	t.Logf("%d cases compiled, %d reads SQLite compiles and the parser refuses", checked, refused)
	if checked < 200 {
		t.Errorf("only %d golden cases compiled", checked)
	}
}
