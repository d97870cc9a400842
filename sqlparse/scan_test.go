package sqlparse

import (
	"reflect"
	"strings"
	"testing"
)

func TestScan(t *testing.T) {
	tb := func(names ...string) []Table {
		var ts []Table
		for _, n := range names {
			if s, name, ok := strings.Cut(n, "."); ok {
				ts = append(ts, Table{Schema: s, Name: name})
			} else {
				ts = append(ts, Table{Name: n})
			}
		}
		return ts
	}
	tests := []struct {
		name    string
		sql     string
		kind    Kind
		writes  []Table
		all     bool
		session bool
	}{
		// A read the parser rejected may hide a write (a function, syntax the
		// scan does not know): unknown, everything invalidated.
		{"plain select", "SELECT a FROM t WHERE b = 'x'", KindUnknown, nil, true, false},
		{"with", "WITH c AS (SELECT 1) SELECT * FROM c", KindUnknown, nil, true, false},
		{"parenthesised union", "(SELECT 1) UNION (SELECT 2)", KindUnknown, nil, true, false},
		{"write word in string", "SELECT 'DELETE FROM t' FROM u", KindUnknown, nil, true, false},
		{"write word in comment", "SELECT 1 /* drop table x */ FROM u -- update\n", KindUnknown, nil, true, false},
		{"replace function", "SELECT replace(name, 'a', 'b') FROM u", KindUnknown, nil, true, false},
		{"qualified column named update", "SELECT t.update FROM t", KindUnknown, nil, true, false},
		{"select into", "SELECT a INTO b FROM t", KindUnknown, nil, true, false},
		{"for update", "SELECT a FROM t FOR UPDATE", KindUnknown, nil, true, false},
		{"lock in share mode", "SELECT a FROM t LOCK IN SHARE MODE", KindUnknown, nil, true, false},
		{"data-modifying cte", "WITH d AS (DELETE FROM q RETURNING *) SELECT * FROM d", KindUnknown, nil, true, false},
		{"insert", "INSERT INTO Users (a) VALUES (1)", KindWrite, tb("users"), false, false},
		// Double quotes delimit a string in MySQL: the conventions disagree.
		{"insert quoted schema", `INSERT INTO "Sch"."T" VALUES (1)`, KindUnknown, tb("Sch.T"), true, false},
		{"insert backticks", "INSERT IGNORE INTO `db`.`t` SET a = 1", KindWrite, tb("db.t"), false, false},
		{"insert or replace", "INSERT OR REPLACE INTO t VALUES (1)", KindWrite, tb("t"), false, false},
		{"upsert", "INSERT INTO t VALUES (1) ON CONFLICT (a) DO UPDATE SET b = 2", KindWrite, tb("t"), false, false},
		{"on duplicate key", "INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE b = 2", KindWrite, tb("t"), false, false},
		{"insert select", "INSERT INTO t SELECT * FROM s", KindWrite, tb("t"), false, false},
		{"replace", "REPLACE INTO t VALUES (1)", KindWrite, tb("t"), false, false},
		{"update", "UPDATE t SET a = 1 WHERE b = 2", KindWrite, tb("t"), false, false},
		{"update alias", "UPDATE t AS x SET a = 1", KindWrite, tb("t"), false, false},
		{"update multi-table", "UPDATE a, b SET a.x = b.x", KindUnknown, nil, true, false},
		{"update join", "UPDATE a JOIN b ON a.id = b.id SET a.x = 1", KindUnknown, nil, true, false},
		{"delete", "DELETE FROM t WHERE a = 1", KindWrite, tb("t"), false, false},
		{"delete multi-table", "DELETE t1 FROM t1 JOIN t2 ON t1.id = t2.id", KindUnknown, nil, true, false},
		{"delete using", "DELETE FROM t1 USING t1 JOIN t2", KindUnknown, nil, true, false},
		{"truncate", "TRUNCATE TABLE a, b", KindDDL, tb("a", "b"), false, false},
		{"truncate cascade", "TRUNCATE a CASCADE", KindDDL, tb("a"), true, false},
		{"drop table", "DROP TABLE IF EXISTS a, s.b", KindDDL, tb("a", "s.b"), false, false},
		{"drop view", "DROP VIEW v", KindDDL, tb("v"), true, false},
		{"drop schema", "DROP SCHEMA s", KindDDL, nil, true, false},
		{"alter table", "ALTER TABLE t ADD COLUMN c int", KindDDL, tb("t"), false, false},
		{"alter rename", "ALTER TABLE t RENAME TO u", KindDDL, tb("t"), true, false},
		{"create table", "CREATE TABLE IF NOT EXISTS t (a int)", KindDDL, tb("t"), false, false},
		{"create temp table", "CREATE TEMPORARY TABLE t (a int)", KindDDL, tb("t"), false, true},
		{"create index", "CREATE UNIQUE INDEX i ON t (a)", KindDDL, tb("t"), false, false},
		{"create function", "CREATE FUNCTION f() RETURNS int", KindDDL, nil, true, false},
		{"create trigger", "CREATE TRIGGER t AFTER UPDATE ON u FOR EACH ROW BEGIN INSERT INTO a VALUES (1); END", KindDDL, nil, true, true},
		{"create trigger one statement", "CREATE TRIGGER t AFTER UPDATE ON u FOR EACH ROW INSERT INTO a VALUES (1)", KindDDL, nil, true, false},
		{"drop trigger", "DROP TRIGGER IF EXISTS t", KindDDL, nil, true, false},
		{"create temporary sequence", "CREATE TEMPORARY SEQUENCE s", KindUnknown, nil, true, false},
		{"begin", "BEGIN", KindTx, nil, false, true},
		{"begin immediate", "BEGIN IMMEDIATE TRANSACTION", KindTx, nil, false, true},
		{"savepoint", "SAVEPOINT s1", KindTx, nil, false, true},
		{"rollback to", "ROLLBACK TO SAVEPOINT s1", KindTx, nil, false, true},
		{"compound block", "BEGIN NOT ATOMIC DELETE FROM t; END", KindUnknown, nil, true, true},
		{"set", "SET NAMES utf8mb4", KindSession, nil, false, true},
		{"pragma", "PRAGMA foreign_keys = ON", KindSession, nil, false, true},
		{"show", "SHOW TABLES", KindOther, nil, false, false},
		{"explain analyze write", "EXPLAIN ANALYZE DELETE FROM t", KindUnknown, nil, true, false},
		{"call", "CALL p(1)", KindUnknown, nil, true, false},
		{"junk", "FROBNICATE the table", KindUnknown, nil, true, false},
		{"user variable assigned in a write", "INSERT INTO t VALUES (@x := 1) RETURNING id", KindWrite, tb("t"), false, true},
		{"empty", "  -- nothing\n", KindOther, nil, false, false},
		{"multi", "SET a = 1; INSERT INTO t VALUES (1); UPDATE u SET x = 1", KindWrite, tb("t", "u"), false, true},
		{"multi reads", "SELECT 1; SELECT 2", KindUnknown, nil, true, false},
		{"read then write", "SELECT 1; DELETE FROM t", KindUnknown, tb("t"), true, false},
		{"unterminated string", "SELECT 'abc FROM t", KindUnknown, nil, true, false},
		{"unterminated comment", "SELECT 1 /* x", KindUnknown, nil, true, false},
		// Text whose meaning depends on the lexical convention.
		{"hash comment hides write in mysql only", "SELECT 1 # x\n; DELETE FROM t", KindUnknown, tb("t"), true, false},
		{"hash is an operator in postgres", "SELECT 1 # 2; DELETE FROM t", KindUnknown, tb("t"), true, false},
		{"backslash escape", `SELECT 'a\'; DELETE FROM t; --'`, KindUnknown, tb("t"), true, false},
		{"dollar quote", "SELECT $$; DELETE FROM t; $$", KindUnknown, tb("t"), true, false},
		{"executable comment", "SELECT 1 /*!50000 , (SELECT 1 INTO @x) */", KindUnknown, nil, true, false},
		{"double dash without space", "SELECT 1--1\n", KindUnknown, nil, true, false},
		{"double dash then write", "SELECT 1--1; DELETE FROM t\n", KindUnknown, tb("t"), true, false},
		{"nested comment", "SELECT 1 /* a /* b */ DELETE FROM t */", KindUnknown, nil, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Scan(tt.sql)
			if got.Kind != tt.kind || !reflect.DeepEqual(got.Writes, tt.writes) || got.AllTables != tt.all ||
				got.Session != tt.session {
				t.Errorf("Scan(%q) = kind %v writes %v all %v session %v; want %v %v %v %v", tt.sql,
					got.Kind, got.Writes, got.AllTables, got.Session, tt.kind, tt.writes, tt.all, tt.session)
			}
			if got.Parsed || got.Cacheable || got.Reason != "unparsed" {
				t.Errorf("Scan(%q): parsed %v cacheable %v reason %q", tt.sql, got.Parsed, got.Cacheable, got.Reason)
			}
		})
	}
}

func TestScanFunctions(t *testing.T) {
	got := Scan("SELECT count(*), NOW() FROM t WHERE id IN (SELECT 1) AND EXISTS (SELECT 2)").Functions
	if want := []string{"count", "now"}; !reflect.DeepEqual(got, want) {
		t.Errorf("functions %v, want %v", got, want)
	}
}

// FuzzScan checks that Scan never panics and never calls a text read when
// a write keyword stands outside strings and comments under some convention.
func FuzzScan(f *testing.F) {
	for _, s := range []string{"SELECT 1", "INSERT INTO t VALUES (1)", "SELECT 'a\\'; DELETE FROM t", "SELECT $a$ x $a$"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		st := Scan(sql)
		if st.Cacheable || st.Parsed {
			t.Fatalf("%q: %+v", sql, st)
		}
		if st.Kind == KindRead && strings.Contains(strings.ToUpper(sql), "DELETE FROM T") {
			for _, m := range lexModes {
				toks, _ := lex(sql, m)
				for i := 0; i+2 < len(toks); i++ {
					// A DELETE after a dot is a column name (t.delete), not a statement.
					if toks[i].up == "DELETE" && toks[i+1].up == "FROM" && (i == 0 || toks[i-1].text != ".") {
						t.Fatalf("%q: read, but mode %+v sees DELETE FROM", sql, m)
					}
				}
			}
		}
	})
}

// Transaction control the scan recognises says whether it may end the
// transaction; savepoint operations keep it.
func TestScanEndsTx(t *testing.T) {
	for sql, want := range map[string]bool{
		"COMMIT": true, "END": true, "ROLLBACK": true, "ABORT": true, "BEGIN": true, "START TRANSACTION": true,
		"SAVEPOINT s1": false, "RELEASE SAVEPOINT s1": false, "ROLLBACK TO SAVEPOINT s1": false,
		"UPDATE t SET a = 1; COMMIT": true,
	} {
		if got := Scan(sql).EndsTx; got != want {
			t.Errorf("Scan(%q).EndsTx = %v, want %v", sql, got, want)
		}
	}
}
