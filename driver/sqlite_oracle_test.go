package driver_test

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"testing"

	"github.com/mattn/go-sqlite3"

	"github.com/yokedcache/yoked/sqlparse"
	"github.com/yokedcache/yoked/sqlparse/sqlite"
	"github.com/yokedcache/yoked/sqlparse/sqlparsetest"
)

// oracleSchema holds the tables the oracle statements use, without views,
// triggers or foreign keys (SQLite would report the tables they reach).
const oracleSchema = `
CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, email TEXT, score REAL, active INT, team_id INT, deleted_at TEXT, created TEXT);
CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INT, total INT, status TEXT, created_at TEXT);
CREATE TABLE teams (id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE bans (user_id INT, until TEXT);
CREATE TABLE admins (user_id INT);
CREATE TABLE audit (id INTEGER PRIMARY KEY, note TEXT);
CREATE TABLE docs (id INTEGER PRIMARY KEY, tags TEXT, body TEXT);
CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT, updated INT);
CREATE TABLE counters (name TEXT PRIMARY KEY, n INT);
CREATE INDEX users_name ON users (name);`

// oracleStatements are checked besides every golden case that compiles on
// oracleSchema.
var oracleStatements = []string{
	`SELECT u.name, o.total FROM users u FULL OUTER JOIN orders o ON o.user_id = u.id`,
	`SELECT * FROM users INDEXED BY users_name WHERE name = ?`,
	`SELECT count(*) FILTER (WHERE total > 1) FROM orders WHERE user_id IN (SELECT user_id FROM bans)`,
	`WITH t AS MATERIALIZED (SELECT user_id, sum(total) s FROM orders GROUP BY 1) SELECT users.name, t.s FROM users JOIN t ON t.user_id = users.id`,
	`WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < (SELECT count(*) FROM teams)) SELECT * FROM r`,
	`WITH users AS (SELECT * FROM orders) SELECT * FROM users`,
	`SELECT * FROM (WITH x AS (SELECT id FROM teams) SELECT * FROM x) y JOIN audit ON audit.id = y.id`,
	`SELECT d.id, j.value FROM docs d, json_each(d.tags) j WHERE j.value IN (SELECT name FROM teams)`,
	`SELECT * FROM users WHERE id IN admins AND team_id IN main.admins`,
	`SELECT * FROM orders LIMIT (SELECT count(*) FROM users)`,
	`SELECT (SELECT name FROM teams WHERE teams.id = u.team_id), EXISTS (SELECT 1 FROM bans b WHERE b.user_id = u.id) FROM users u`,
	`SELECT id FROM users UNION SELECT id FROM teams EXCEPT SELECT user_id FROM bans ORDER BY 1`,
	`SELECT row_number() OVER w, sum(total) OVER (PARTITION BY user_id ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM orders WINDOW w AS (ORDER BY id)`,
	`VALUES (1), ((SELECT max(id) FROM audit))`,
	`SELECT * FROM users WHERE score IS NOT DISTINCT FROM ? ORDER BY created NULLS LAST`,
	`INSERT INTO audit (note) SELECT name FROM users WHERE active`,
	`INSERT INTO kv (k, v, updated) VALUES (?, ?, ?) ON CONFLICT (k) DO UPDATE SET v = (SELECT name FROM teams LIMIT 1) WHERE excluded.updated > kv.updated`,
	`INSERT INTO counters AS c (name, n) VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET n = c.n + 1 RETURNING n`,
	`INSERT INTO audit DEFAULT VALUES RETURNING id`,
	`REPLACE INTO kv SELECT name, email, 0 FROM users`,
	`UPDATE users SET name = t.name FROM teams t WHERE t.id = users.team_id`,
	`UPDATE users SET score = (SELECT sum(total) FROM orders WHERE orders.user_id = users.id) WHERE id IN (SELECT user_id FROM bans)`,
	`UPDATE OR IGNORE users SET (name, email) = (SELECT name, name FROM teams WHERE teams.id = users.team_id)`,
	`DELETE FROM orders WHERE user_id IN (SELECT user_id FROM bans) RETURNING id, (SELECT count(*) FROM audit)`,
	`WITH old AS (SELECT id FROM orders WHERE status = 'x') DELETE FROM orders WHERE id IN old`,
	`WITH s AS (SELECT * FROM teams) INSERT INTO audit (note) SELECT name FROM s`,
	`SELECT count(*) FROM sqlite_master WHERE name = ?`,
	`UPDATE users SET name = ? WHERE id = ?`,
	`DELETE FROM users WHERE id = ?`,
}

// TestSQLiteParserAgreesWithSQLite compares what the parser says a
// statement reads and writes with what SQLite's authorizer reports while
// compiling it: every table SQLite writes is a write, every table it reads
// is a read or a write, and nothing else is named.
func TestSQLiteParserAgreesWithSQLite(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite3", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, oracleSchema); err != nil {
		t.Fatal(err)
	}
	var reads, writes, funcs []string
	err = conn.Raw(func(dc any) error {
		dc.(*sqlite3.SQLiteConn).RegisterAuthorizer(func(op int, a1, a2, _ string) int {
			switch op {
			case sqlite3.SQLITE_READ:
				reads = append(reads, strings.ToLower(a1))
			case sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE:
				writes = append(writes, strings.ToLower(a1))
			case sqlite3.SQLITE_FUNCTION:
				funcs = append(funcs, strings.ToLower(a2))
			}
			return 0 // SQLITE_OK
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	stmts := slices.Clone(oracleStatements)
	for _, c := range sqlparsetest.All(t, "../testdata/sqlparse/sqlite") {
		stmts = append(stmts, c.SQL)
	}
	p := sqlite.New()
	checked := 0
	for i, q := range stmts {
		st := p.Parse(q)
		if i < len(oracleStatements) && (!st.Parsed || st.Kind != sqlparse.KindRead && st.Kind != sqlparse.KindWrite) {
			t.Errorf("%s: parsed %v, kind %v", q, st.Parsed, st.Kind)
		}
		if !st.Parsed || strings.Contains(q, ";") || (st.Kind != sqlparse.KindRead && st.Kind != sqlparse.KindWrite) {
			continue
		}
		reads, writes, funcs = nil, nil, nil
		ps, err := conn.PrepareContext(ctx, q)
		if err != nil {
			if i < len(oracleStatements) {
				t.Errorf("%s: %v", q, err)
			}
			continue // a golden case on tables oracleSchema lacks
		}
		ps.Close()
		checked++
		pr, pw := names(st.Reads), names(st.Writes)
		for _, w := range sqlparse.SortNames(writes) {
			if !slices.Contains(pw, w) {
				t.Errorf("%s\n  SQLite writes %s, the parser says writes %v", q, w, pw)
			}
		}
		for _, r := range sqlparse.SortNames(reads) {
			if r == "" || r == "json_each" || r == "json_tree" || strings.HasPrefix(r, "pragma_") {
				continue // table-valued functions: their arguments are what is read
			}
			if !slices.Contains(pr, r) && !slices.Contains(pw, r) {
				t.Errorf("%s\n  SQLite reads %s, the parser says reads %v writes %v", q, r, pr, pw)
			}
		}
		for _, r := range pr {
			if !slices.Contains(reads, r) {
				t.Errorf("%s\n  the parser says reads %s, SQLite reads %v", q, r, sqlparse.SortNames(reads))
			}
		}
		for _, w := range pw {
			if !slices.Contains(writes, w) {
				t.Errorf("%s\n  the parser says writes %s, SQLite writes %v", q, w, sqlparse.SortNames(writes))
			}
		}
		for _, f := range sqlparse.SortNames(funcs) {
			if f != "match" && !slices.Contains(st.Functions, f) { // match: see operatorCall
				t.Errorf("%s\n  SQLite calls %s, the parser says calls %v", q, f, st.Functions)
			}
		}
		for _, f := range st.Functions {
			if !slices.Contains(funcs, f) {
				t.Errorf("%s\n  the parser says calls %s, SQLite calls %v", q, f, sqlparse.SortNames(funcs))
			}
		}
	}
	t.Logf("%d statements compared with SQLite's authorizer", checked)
}

// names are the table names of ts, the schema table under the name
// SQLite's authorizer gives it (sqlite_schema is sqlite_master).
func names(ts []sqlparse.Table) []string {
	var out []string
	for _, t := range ts {
		n := strings.Replace(t.Name, "_schema", "_master", 1)
		if !strings.HasPrefix(t.Name, "sqlite_") {
			n = t.Name
		}
		out = append(out, n)
	}
	return out
}
