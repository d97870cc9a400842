package catalog

import (
	"reflect"
	"slices"
	"testing"

	"github.com/yokedcache/yoked/sqlparse"
	"github.com/yokedcache/yoked/sqlparse/postgres"
)

func TestReadBody(t *testing.T) {
	parser := postgres.New()
	for _, tc := range []struct {
		name, body string
		writes     []string
		opaque     bool
	}{
		{"none", `BEGIN NEW.updated_at := now(); RETURN NEW; END`, nil, false},
		{"insert", `BEGIN INSERT INTO audit (note) VALUES (NEW.name); RETURN NEW; END`, []string{"audit"}, false},
		{"branches", `BEGIN IF TG_OP = 'DELETE' THEN DELETE FROM b WHERE id = OLD.id; ELSE UPDATE c SET n = n + 1; END IF; RETURN NULL; END`, []string{"b", "c"}, false},
		{"keyword in literal", `BEGIN IF TG_OP = 'UPDATE; DELETE FROM x' THEN RETURN NEW; END IF; RETURN NULL; END`, nil, false},
		{"keyword in comment", `BEGIN -- DELETE FROM x;
RETURN NEW; END`, nil, false},
		{"dynamic", `BEGIN EXECUTE 'DELETE FROM ' || TG_ARGV[0]; RETURN NULL; END`, nil, true},
		{"perform", `BEGIN PERFORM other_fn(); RETURN NULL; END`, nil, true},
		{"call", `BEGIN CALL proc(); END`, nil, true},
		{"returning into", `BEGIN INSERT INTO a (x) VALUES (1) RETURNING id INTO v; RETURN NULL; END`, nil, true},
		{"locking read", `BEGIN SELECT 1 INTO v FROM t FOR UPDATE; RETURN NULL; END`, nil, true},
		{"updated_at column is no keyword", `BEGIN NEW.updated_at = NEW.deleted_at; RETURN NEW; END`, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := readBody(parser, tc.body)
			if (b.opaque != "") != tc.opaque {
				t.Fatalf("opaque = %q, want opaque=%v", b.opaque, tc.opaque)
			}
			if !tc.opaque && !reflect.DeepEqual(b.writes, tc.writes) {
				t.Fatalf("writes = %v, want %v", b.writes, tc.writes)
			}
		})
	}
}

func TestCatalogBuildAndApply(t *testing.T) {
	f := newFacts()
	f.allFuncs = true
	f.edges = [][2]string{{"p", "c"}, {"c", "g"}}
	f.views["v1"] = []string{"users"}
	f.views["v2"] = []string{"v1", "orders"}
	f.opaqueViews["vnow"] = "view vnow: calls now()"
	f.triggers["users"] = &body{writes: []string{"audit"}}
	f.triggers["opaque"] = &body{opaque: "dynamic"}
	f.triggers["declared"] = &body{opaque: "dynamic"}
	f.funcs = map[string]funcClass{"lower": funcBuiltin, "twice": funcStable, "bump": funcVolatile}
	f.rls = []string{"docs"}
	c := build(f, map[string][]string{"declared": {"x"}, "audit": {"audit_summary"}})

	planOf := func(st sqlparse.Statement) Access { return c.Access(&st, "") }
	read := func(tables ...string) sqlparse.Statement {
		st := sqlparse.Statement{Kind: sqlparse.KindRead, Parsed: true, Cacheable: true}
		for _, t := range tables {
			st.Reads = append(st.Reads, sqlparse.Table{Name: t})
		}
		return st
	}
	write := func(table string) sqlparse.Statement {
		return sqlparse.Statement{Kind: sqlparse.KindWrite, Parsed: true, Writes: []sqlparse.Table{{Name: table}}}
	}

	if p := planOf(write("p")); !reflect.DeepEqual(p.Writes, []string{"p", "c", "g"}) || p.WriteAll {
		t.Errorf("FK cascade: %v all=%v", p.Writes, p.WriteAll)
	}
	if p := planOf(write("users")); !reflect.DeepEqual(p.Writes, []string{"users", "audit", "audit_summary"}) || p.WriteAll {
		t.Errorf("trigger + declared chain: %v all=%v", p.Writes, p.WriteAll)
	}
	if p := planOf(write("opaque")); !p.WriteAll {
		t.Error("opaque trigger must invalidate everything")
	}
	if p := planOf(write("declared")); p.WriteAll || !reflect.DeepEqual(p.Writes, []string{"declared", "x"}) {
		t.Errorf("declared dependency replaces the opaque verdict: %v all=%v", p.Writes, p.WriteAll)
	}
	if p := planOf(write("v2")); !reflect.DeepEqual(p.Writes, []string{"v2", "audit", "audit_summary", "orders", "users", "v1"}) {
		t.Errorf("write to a view: %v", p.Writes)
	}
	if p := planOf(read("v2")); !reflect.DeepEqual(p.Reads, []string{"v2", "orders", "users", "v1"}) || !p.Cacheable {
		t.Errorf("nested view read: %v cacheable=%v", p.Reads, p.Cacheable)
	}
	if p := planOf(read("vnow")); p.Cacheable {
		t.Error("a view over now() was cacheable")
	}
	if p := planOf(read("docs")); !p.NeedsScope {
		t.Error("row-level security not flagged")
	}
	fn := func(name string) Access {
		st := read("users")
		st.Functions = []string{name}
		return planOf(st)
	}
	if p := fn("public.twice"); !p.Cacheable || p.IsWrite() {
		t.Errorf("stable user function: cacheable=%v write=%v", p.Cacheable, p.IsWrite())
	}
	if p := fn("lower"); !p.Cacheable {
		t.Error("built-in function made the read uncacheable")
	}
	if p := fn("bump"); p.Cacheable || !p.WriteAll || p.Kind != sqlparse.KindWrite {
		t.Errorf("volatile function: cacheable=%v all=%v kind=%v", p.Cacheable, p.WriteAll, p.Kind)
	}
	if p := fn("nobody_knows"); p.Cacheable {
		t.Error("unknown function was cacheable")
	}
	// Parsers that list no functions: the text is searched for volatile calls.
	st := read("users")
	p := c.Access(&st, "SELECT BUMP (1) FROM users")
	if p.Cacheable || !p.WriteAll {
		t.Error("a volatile call found in the text did not make the read a write of everything")
	}

	w := write("p")
	if failed := Failed().Access(&w, ""); !failed.WriteAll {
		t.Error("without a catalog a write must invalidate everything")
	}
}

func TestReadFunctionBody(t *testing.T) {
	parser := postgres.New()
	for _, tc := range []struct {
		name, lang, src string
		reads           []string
		opaque          bool
	}{
		{"sql", "sql", `SELECT total FROM orders o JOIN users u ON u.id = o.user_id WHERE o.id = $1`, []string{"orders", "users"}, false},
		{"plpgsql select into", "plpgsql", `DECLARE n int; BEGIN SELECT count(*) INTO n FROM orders; RETURN n; END`, []string{"orders"}, false},
		{"plpgsql return query", "plpgsql", `BEGIN RETURN QUERY SELECT id FROM a UNION SELECT id FROM b; END`, []string{"a", "b"}, false},
		{"plpgsql no tables", "plpgsql", `BEGIN RETURN $1 * 2; END`, nil, false},
		{"dynamic", "plpgsql", `BEGIN RETURN QUERY EXECUTE 'SELECT 1'; END`, nil, true},
		{"subquery expression", "plpgsql", `BEGIN RETURN (SELECT max(id) FROM a); END`, nil, true},
		{"other language", "plpython3u", `return 1`, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := readFunctionBody(parser, tc.lang, tc.src)
			if (b.opaque != "") != tc.opaque {
				t.Fatalf("opaque = %q, want opaque=%v", b.opaque, tc.opaque)
			}
			if !tc.opaque && !reflect.DeepEqual(b.reads, tc.reads) {
				t.Fatalf("reads = %v, want %v", b.reads, tc.reads)
			}
		})
	}
}

func TestRowLocal(t *testing.T) {
	f := newFacts()
	// p cascades to c; tree references itself; a -> b -> a is a cycle.
	f.edges = [][2]string{{"p", "c"}, {"tree", "tree"}, {"a", "b"}, {"b", "a"}}
	f.triggers["trig"] = &body{writes: []string{"trig"}}
	f.triggers["opaque"] = &body{opaque: "dynamic"}
	// logged: an AFTER trigger writing another table; before: a BEFORE
	// trigger, which may change the key of the row written.
	f.triggers["logged"] = &body{writes: []string{"log"}}
	f.triggers["before"] = &body{}
	f.keyTriggers["before"] = true
	c := build(f, nil)
	for table, want := range map[string]bool{
		"p": true, "c": true, "plain": true, "public.p": true, "logged": true,
		"tree": false, "a": false, "b": false, "trig": false, "opaque": false, "before": false,
	} {
		if got := c.RowLocal(table); got != want {
			t.Errorf("RowLocal(%s) = %v, want %v", table, got, want)
		}
	}
	if Failed().RowLocal("p") || (*Catalog)(nil).RowLocal("p") {
		t.Error("a failed or nil catalog has row-local tables")
	}
}

// WritesOf follows cascades and triggers transitively; an opaque trigger
// and a failed catalog mean anything.
func TestWritesOf(t *testing.T) {
	f := newFacts()
	f.edges = [][2]string{{"app.p", "app.c"}, {"app.c", "app.g"}}
	f.triggers["app.logged"] = &body{writes: []string{"app.log"}}
	f.triggers["app.opaque"] = &body{opaque: "dynamic"}
	c := build(f, nil)
	for _, tc := range []struct {
		table string
		also  []string
		all   bool
	}{
		{"app.p", []string{"app.c", "app.g"}, false},
		{"App.C", []string{"app.g"}, false},
		{"app.g", nil, false},
		{"app.logged", []string{"app.log"}, false},
		{"app.opaque", nil, true},
	} {
		also, all := c.WritesOf(tc.table)
		slices.Sort(also)
		if !slices.Equal(also, tc.also) || all != tc.all {
			t.Errorf("WritesOf(%s) = %v, %v; want %v, %v", tc.table, also, all, tc.also, tc.all)
		}
	}
	if _, all := Failed().WritesOf("app.p"); !all {
		t.Error("a failed catalog knows what a write changes")
	}
}

// Names resolve the way each server resolves them (resolve.go).
func TestResolve(t *testing.T) {
	pg := &resolver{dialect: sqlparse.DialectPostgres, path: []string{"pg_catalog", "app", "public"},
		rels: map[string]bool{"app.users": true, "public.users": true, "public.orders": true, "pg_catalog.pg_class": true, "other.users": true}}
	my := &resolver{dialect: sqlparse.DialectMySQL, current: "shop"}
	sl := &resolver{dialect: sqlparse.DialectSQLite}
	for _, tc := range []struct {
		res  *resolver
		t    sqlparse.Table
		want string
	}{
		{pg, sqlparse.Table{Name: "users"}, "app.users"},      // first schema of the path holding it
		{pg, sqlparse.Table{Name: "orders"}, "public.orders"}, // further down the path
		{pg, sqlparse.Table{Name: "pg_class"}, "pg_catalog.pg_class"},
		{pg, sqlparse.Table{Name: "nowhere"}, "app.nowhere"}, // where CREATE would put it
		{pg, sqlparse.Table{Schema: "Other", Name: "users"}, "other.users"},
		{my, sqlparse.Table{Name: "Users"}, "shop.users"},
		{my, sqlparse.Table{Schema: "test", Name: "users"}, "test.users"},
		{&resolver{dialect: sqlparse.DialectMySQL}, sqlparse.Table{Name: "users"}, "users"}, // no database selected
		{sl, sqlparse.Table{Name: "users"}, "users"},
		{sl, sqlparse.Table{Schema: "main", Name: "users"}, "users"},
		{sl, sqlparse.Table{Schema: "temp", Name: "t"}, "temp.t"},
		{sl, sqlparse.Table{Schema: "aux", Name: "t"}, "aux.t"},
		{nil, sqlparse.Table{Schema: "public", Name: "Users"}, "users"}, // no catalog: bare
	} {
		if got := tc.res.resolve(tc.t); got != tc.want {
			t.Errorf("%v: resolve(%v) = %q, want %q", tc.res, tc.t, got, tc.want)
		}
	}
	// A relation created quoted ("Users") is not what users names.
	cased := &resolver{dialect: sqlparse.DialectPostgres, path: []string{"pg_catalog", "app", "public"},
		rels: map[string]bool{"app.Users": true, "public.users": true}}
	if got := cased.resolve(sqlparse.Table{Name: "users"}); got != "public.users" {
		t.Errorf("users beside \"Users\" resolved to %q", got)
	}
	if got := cased.resolve(sqlparse.Table{Name: "Users"}); got != "app.users" {
		t.Errorf("\"Users\" resolved to %q", got)
	}
	if got := pgPath(` "$user", public,pg_temp, "My", Other`, "bob"); !reflect.DeepEqual(got, []string{"pg_catalog", "bob", "public", "My", "other"}) {
		t.Errorf("pgPath = %v", got)
	}
	if got := pgPath(`public, pg_catalog`, ""); !reflect.DeepEqual(got, []string{"public", "pg_catalog"}) {
		t.Errorf("pgPath with pg_catalog placed = %v", got)
	}
}

// Facts of same-named tables in two schemas stay apart: a write of one
// expands only through its own schema's foreign keys and triggers.
func TestSchemasApart(t *testing.T) {
	f := newFacts()
	f.res = &resolver{dialect: sqlparse.DialectPostgres, path: []string{"pg_catalog", "a"},
		rels: map[string]bool{"a.users": true, "a.orders": true, "b.users": true, "b.orders": true, "b.audit": true}}
	f.edges = [][2]string{{"b.users", "b.orders"}}
	f.triggers["b.users"] = &body{writes: []string{"b.audit"}}
	f.keys["a.users"] = []Column{{Name: "id", Type: "bigint", Exact: true}}
	c := build(f, map[string][]string{"orders": {"users"}})
	w := func(schema string) Access {
		st := sqlparse.Statement{Kind: sqlparse.KindWrite, Parsed: true, Writes: []sqlparse.Table{{Schema: schema, Name: "users"}}}
		return c.Access(&st, "")
	}
	if a := w(""); !reflect.DeepEqual(a.Writes, []string{"a.users"}) || a.WriteAll || !a.PathDependent {
		t.Errorf("unqualified write: %+v", a)
	}
	if a := w("b"); !reflect.DeepEqual(a.Writes, []string{"b.users", "b.audit", "b.orders"}) || a.PathDependent {
		t.Errorf("write in b: %+v", a)
	}
	if _, ok := c.PrimaryKey("a.users"); !ok {
		t.Error("key of a.users not found")
	}
	if _, ok := c.PrimaryKey("b.users"); ok {
		t.Error("b.users has a.users's key")
	}
	// A relation the catalog does not hold (created since, by another
	// program) resolves to a guess: its reads are not cached.
	read := func(t sqlparse.Table) Access {
		st := sqlparse.Statement{Kind: sqlparse.KindRead, Parsed: true, Cacheable: true, Reads: []sqlparse.Table{t}}
		return c.Access(&st, "")
	}
	if a := read(sqlparse.Table{Name: "users"}); !a.Cacheable {
		t.Errorf("read of users: %+v", a)
	}
	if a := read(sqlparse.Table{Schema: "b", Name: "audit"}); !a.Cacheable {
		t.Errorf("read of b.audit: %+v", a)
	}
	for _, u := range []sqlparse.Table{{Name: "audit"}, {Schema: "c", Name: "users"}} {
		if a := read(u); a.Cacheable {
			t.Errorf("read of %v not in the catalog is cacheable: %+v", u, a)
		}
	}
	// Declared dependencies resolve through the path too.
	st := sqlparse.Statement{Kind: sqlparse.KindWrite, Parsed: true, Writes: []sqlparse.Table{{Name: "orders"}}}
	if a := c.Access(&st, ""); !reflect.DeepEqual(a.Writes, []string{"a.orders", "a.users"}) {
		t.Errorf("declared dependency: %+v", a.Writes)
	}
}

// SQLite: a write of an attached database's table writes everything (its
// alias is one connection's); main's tables are bare, temp's qualified.
func TestSQLiteSchemas(t *testing.T) {
	f := newFacts()
	f.res = &resolver{dialect: sqlparse.DialectSQLite}
	c := build(f, nil)
	w := func(schema string) Access {
		st := sqlparse.Statement{Kind: sqlparse.KindWrite, Parsed: true, Writes: []sqlparse.Table{{Schema: schema, Name: "t"}}}
		return c.Access(&st, "")
	}
	if a := w("main"); a.WriteAll || !reflect.DeepEqual(a.Writes, []string{"t"}) {
		t.Errorf("main.t: %+v", a)
	}
	if a := w("temp"); a.WriteAll || !reflect.DeepEqual(a.Writes, []string{"temp.t"}) {
		t.Errorf("temp.t: %+v", a)
	}
	if a := w("aux"); !a.WriteAll {
		t.Errorf("aux.t: %+v", a)
	}
}
