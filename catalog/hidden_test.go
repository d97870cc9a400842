package catalog

import (
	"slices"
	"strings"
	"testing"

	"github.com/yokedcache/yoked/internal/testenv"
)

// access parses query and asks the catalog what it really does.
func (d db) access(c *Catalog, query string) Access {
	st := d.parser.Parse(query)
	return c.Access(&st, query)
}

// Writes and reads the schema hides, on PostgreSQL (issue 10, items 2, 7
// and 8). Names carry a random suffix: the catalog reads every schema of a
// shared server.
func TestHiddenPostgres(t *testing.T) {
	d := openDB(t, "postgres")
	x := strings.TrimPrefix(testenv.Name("_"), "_")
	n := func(s string) string { return s + "_" + x }
	d.exec(t,
		`CREATE TABLE `+n("users")+` (id int PRIMARY KEY, name text)`,
		`CREATE TABLE `+n("audit")+` (id serial PRIMARY KEY, note text)`,
		`CREATE FUNCTION `+n("wr")+`() RETURNS int LANGUAGE sql VOLATILE AS $$ INSERT INTO `+n("audit")+` (note) VALUES ('w') RETURNING 1 $$`,
		`CREATE FUNCTION `+n("clock")+`() RETURNS timestamptz LANGUAGE sql STABLE AS $$ SELECT now() $$`,
		`CREATE FUNCTION `+n("setting")+`() RETURNS text LANGUAGE plpgsql STABLE AS $$ BEGIN RETURN current_setting('app.tenant'); END $$`,
		`CREATE FUNCTION `+n("perf")+`() RETURNS int LANGUAGE plpgsql STABLE AS $$ BEGIN PERFORM `+n("wr")+`(); RETURN 1; END $$`,
		`CREATE FUNCTION `+n("assign")+`() RETURNS int LANGUAGE plpgsql STABLE AS $$ DECLARE v int; BEGIN v := `+n("wr")+`(); RETURN v; END $$`,
		`CREATE FUNCTION `+n("chain")+`() RETURNS int LANGUAGE sql STABLE AS $$ SELECT `+n("assign")+`() $$`,
		`CREATE FUNCTION `+n("dyn")+`() RETURNS int LANGUAGE plpgsql STABLE AS $$ DECLARE v int; BEGIN EXECUTE 'SELECT 1' INTO v; RETURN v; END $$`,
		`CREATE FUNCTION "`+n("Bump")+`"() RETURNS int LANGUAGE sql VOLATILE AS $$ INSERT INTO `+n("audit")+` (note) VALUES ('b') RETURNING 1 $$`,
		`CREATE FUNCTION `+n("attr")+`(u `+n("users")+`) RETURNS int LANGUAGE sql VOLATILE AS $$ INSERT INTO `+n("audit")+` (note) VALUES (u.name) RETURNING 1 $$`,
		`CREATE FUNCTION `+n("opf")+`(a int, b int) RETURNS bool LANGUAGE sql VOLATILE AS $$ INSERT INTO `+n("audit")+` (note) VALUES ('op') RETURNING a = b $$`,
		`CREATE OPERATOR === (LEFTARG = int, RIGHTARG = int, FUNCTION = `+n("opf")+`)`,
		`CREATE RULE `+n("r")+` AS ON UPDATE TO `+n("users")+` DO ALSO INSERT INTO `+n("audit")+` (note) VALUES ('rule')`,
		`CREATE TABLE `+n("ident")+` (id int GENERATED ALWAYS AS IDENTITY, v int)`,
		`CREATE TABLE `+n("defw")+` (id int, w int DEFAULT `+n("wr")+`())`,
	)
	c := d.load(t)
	cases := []struct {
		what, query string
		cacheable   bool
		writeAll    bool
		writes      string // a relation among the writes
	}{
		{"stable function reading the clock", `SELECT ` + n("clock") + `()`, false, false, ""},
		{"stable function reading a setting", `SELECT ` + n("setting") + `()`, false, false, ""},
		{"stable function PERFORMing a writer", `SELECT ` + n("perf") + `()`, false, true, ""},
		{"stable function assigning from a writer", `SELECT ` + n("assign") + `()`, false, true, ""},
		{"stable function calling a stable one that writes", `SELECT ` + n("chain") + `()`, false, true, ""},
		{"stable function running SQL text", `SELECT ` + n("dyn") + `()`, false, true, ""},
		{"quoted mixed-case writer", `SELECT "` + n("Bump") + `"()`, false, true, ""},
		{"attribute notation", `SELECT u.` + n("attr") + ` FROM ` + n("users") + ` u`, false, true, ""},
		{"operator backed by a writer", `SELECT 1 WHERE 1 === 2`, false, true, ""},
		{"rule", `UPDATE ` + n("users") + ` SET name = 'x'`, false, false, n("audit")},
		{"serial", `INSERT INTO ` + n("audit") + ` (note) VALUES ('x')`, false, false, n("audit") + "_id_seq"},
		{"identity", `INSERT INTO ` + n("ident") + ` (v) VALUES (1)`, false, false, n("ident") + "_id_seq"},
		{"default calling a writer", `INSERT INTO ` + n("defw") + ` (id) VALUES (1)`, false, true, ""},
		{"nextval", `SELECT nextval('` + n("audit") + `_id_seq')`, false, false, n("audit") + "_id_seq"},
		{"ts_stat runs SQL text", `SELECT * FROM ts_stat('SELECT 1')`, false, false, ""},
		{"plain read stays cacheable", `SELECT name FROM ` + n("users"), true, false, ""},
	}
	for _, tc := range cases {
		a := d.access(c, tc.query)
		if a.Cacheable != tc.cacheable || a.WriteAll != tc.writeAll || (tc.writes != "" && !slices.Contains(a.Writes, c.ResolveName(tc.writes))) {
			t.Errorf("%s: %s\n  got cacheable=%v writeAll=%v writes=%v (%s)", tc.what, tc.query, a.Cacheable, a.WriteAll, a.Writes, a.Reason)
		}
	}
}

func TestSequencesMariaDB(t *testing.T) {
	d := openDB(t, "mysql")
	x := strings.TrimPrefix(testenv.Name("_"), "_")
	seq, tbl := "sq_"+x, "st_"+x
	d.exec(t, `CREATE SEQUENCE `+seq, `CREATE TABLE `+tbl+` (id BIGINT DEFAULT NEXTVAL(`+seq+`) PRIMARY KEY, v INT)`)
	c := d.load(t)
	for _, q := range []string{`SELECT NEXTVAL(` + seq + `)`, `SELECT NEXT VALUE FOR ` + seq, `SELECT SETVAL(` + seq + `, 100)`, `INSERT INTO ` + tbl + ` (v) VALUES (1)`} {
		if a := d.access(c, q); !slices.Contains(a.Writes, c.ResolveName(seq)) || a.Cacheable {
			t.Errorf("%s: writes %v cacheable=%v, want the sequence written", q, a.Writes, a.Cacheable)
		}
	}
}

func TestAutoincrementSQLite(t *testing.T) {
	d := openDB(t, "sqlite")
	d.exec(t, `CREATE TABLE a (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT)`, `CREATE TABLE b (id INTEGER PRIMARY KEY, v TEXT)`)
	c := d.load(t)
	if a := d.access(c, `INSERT INTO a (v) VALUES ('x')`); !slices.Contains(a.Writes, "sqlite_sequence") {
		t.Errorf("AUTOINCREMENT insert writes %v, want sqlite_sequence", a.Writes)
	}
	if a := d.access(c, `INSERT INTO b (v) VALUES ('x')`); slices.Contains(a.Writes, "sqlite_sequence") {
		t.Errorf("plain insert writes %v", a.Writes)
	}
}
