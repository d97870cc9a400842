package driver_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/internal/testenv"
)

// rowTables creates tables of unique names shaped like users, orders and
// audit (a table name other databases on the server also use may have a
// different key there, and then has none in the catalog), fills them like
// open does, and returns a function that rewrites "users", "orders" and
// "audit" in SQL and tags to those names.
func rowTables(t *testing.T, b backend, opts ...yoked.Option) (*e2e, func(string) string) {
	e := b.openDSN(t, b.fresh(t), false, opts...)
	u, o, a := testenv.Name("rtu"), testenv.Name("rto"), testenv.Name("rta")
	r := strings.NewReplacer("users", u, "orders", o, "audit", a)
	auto := map[string]string{"sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT", "postgres": "BIGSERIAL PRIMARY KEY", "mysql": "BIGINT AUTO_INCREMENT PRIMARY KEY"}[b.dialect]
	for _, q := range []string{
		`CREATE TABLE users (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL)`,
		`CREATE TABLE orders (id BIGINT PRIMARY KEY, user_id BIGINT, total BIGINT)`,
		`CREATE TABLE audit (id ` + auto + `, note VARCHAR(200))`,
		`INSERT INTO users (id, name) VALUES (1, 'ada'), (2, 'bob')`,
		`INSERT INTO orders (id, user_id, total) VALUES (1, 1, 10), (2, 2, 20)`,
	} {
		e.rawExec(r.Replace(q))
	}
	if b.dialect == "sqlite" {
		// Only INTEGER PRIMARY KEY is the rowid, compared as an integer.
		for _, tb := range []string{u, o} {
			e.rawExec(`DROP TABLE ` + tb)
		}
		e.rawExec(`CREATE TABLE ` + u + ` (id INTEGER PRIMARY KEY, name TEXT NOT NULL)`)
		e.rawExec(`CREATE TABLE ` + o + ` (id INTEGER PRIMARY KEY, user_id INTEGER, total INTEGER)`)
		e.rawExec(`INSERT INTO ` + u + ` (id, name) VALUES (1, 'ada'), (2, 'bob')`)
		e.rawExec(`INSERT INTO ` + o + ` (id, user_id, total) VALUES (1, 1, 10), (2, 2, 20)`)
	}
	if err := yoked.WaitCatalog(context.Background(), e.db); err != nil {
		t.Fatal(err)
	}
	return e, r.Replace
}

// bumped runs f and returns the tags among cand whose version changed.
// Tags name tables without a schema: they are qualified with the test's
// (e.qualify) to look, and reported as given.
func (e *e2e) bumped(cand []string, f func()) []string {
	e.t.Helper()
	ctx := context.Background()
	given := map[string]string{}
	for i, tag := range cand {
		q := e.qualify(tag)
		given[q] = tag
		cand = slices.Clone(cand)
		cand[i] = q
	}
	before, err := e.cache.Store().Stamp(ctx, cand)
	if err != nil {
		e.t.Fatal(err)
	}
	f()
	after, err := e.cache.Store().Stamp(ctx, cand)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for i, tag := range before.Tags {
		if before.Versions[i] != after.Versions[i] {
			out = append(out, given[tag])
		}
	}
	slices.Sort(out)
	return out
}

// Each write form invalidates exactly its rows and the set tag, or its
// whole table when yoked cannot pin it to rows.
func TestRowTagsPerWriteForm(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e, n := rowTables(t, b)
		e.want("warm-up", e.str(e.db, n(`SELECT name FROM users WHERE id = ?`), 1), "ada") // loads the catalog
		cand := []string{"table:users", "set:users", "row:users(id=1)", "row:users(id=2)", "row:users(id=3)",
			"row:users(id=4)", "table:orders", "set:orders", "row:orders(id=2)", "table:audit", "set:audit"}
		for i := range cand {
			cand[i] = n(cand[i])
		}
		for _, c := range []struct {
			name string
			sql  string
			args []any
			want []string
		}{
			{"update by key", `UPDATE users SET name = ? WHERE id = ?`, []any{"x", 1}, []string{"row:users(id=1)", "set:users"}},
			{"update by key given as text", `UPDATE users SET name = 'y' WHERE id = '2'`, nil, []string{"row:users(id=2)", "set:users"}},
			{"delete by key", `DELETE FROM orders WHERE id = ?`, []any{2}, []string{"row:orders(id=2)", "set:orders"}},
			{"insert with key", `INSERT INTO users (id, name) VALUES (?, 'c')`, []any{3}, []string{"row:users(id=3)", "set:users"}},
			{"update by other predicate", `UPDATE users SET name = 'z' WHERE name = 'x'`, nil, []string{"table:users"}},
			{"key-changing update", `UPDATE users SET id = 4 WHERE id = 3`, nil, []string{"table:users"}},
			{"insert with default key", `INSERT INTO audit (note) VALUES ('n')`, nil, []string{"table:audit"}},
			{"delete of keys in a list", `DELETE FROM users WHERE id IN (?, ?)`, []any{3, 4}, []string{"row:users(id=3)", "row:users(id=4)", "set:users"}},
			{"update by key with a float argument", `UPDATE users SET name = 'w' WHERE id = ?`, []any{1.0}, []string{"table:users"}},
			{"update without where", `UPDATE orders SET total = 0`, nil, []string{"table:orders"}},
		} {
			for i := range c.want {
				c.want[i] = n(c.want[i])
			}
			slices.Sort(c.want)
			got := e.bumped(cand, func() { e.exec(e.db, n(c.sql), c.args...) })
			if !slices.Equal(got, c.want) {
				t.Errorf("%s: %s invalidated %q, want %q", c.name, c.sql, got, c.want)
			}
		}
	})
}

// A keyed read survives writes of other rows and sees writes of its own;
// scans see every write; with row tags off every write drops both.
func TestRowTagsReads(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		for _, on := range []bool{true, false} {
			e, n := rowTables(t, b, yoked.WithRowTags(on))
			key := n(`SELECT name FROM users WHERE id = ?`)
			scan := n(`SELECT count(*) FROM users WHERE name <> ''`)
			count := n(`SELECT count(*) FROM users WHERE id = ?`)
			e.want("warm-up", e.str(e.db, key, 1), "ada")
			e.str(e.db, key, 2)
			e.str(e.db, scan)
			e.hit(func() { e.want("user 1", e.str(e.db, key, 1), "ada") })
			e.exec(e.db, n(`UPDATE users SET name = ? WHERE id = ?`), "bee", 2)
			if on {
				e.hit(func() { e.want("user 1 after a write of user 2", e.str(e.db, key, 1), "ada") })
			} else {
				e.miss(func() { e.want("user 1 after a write of user 2", e.str(e.db, key, 1), "ada") })
			}
			e.miss(func() { e.want("user 2", e.str(e.db, key, 2), "bee") })
			e.miss(func() { e.want("scan", e.str(e.db, scan), "2") })
			// A key read before its row exists sees the insert.
			e.miss(func() { e.want("user 9 absent", e.str(e.db, count, 9), "0") })
			e.exec(e.db, n(`INSERT INTO users (id, name) VALUES (9, 'nine')`))
			e.want("user 9 inserted", e.str(e.db, count, 9), "1")
			// A key-changing update is seen under both keys.
			e.str(e.db, key, 1)
			e.exec(e.db, n(`UPDATE users SET id = 10 WHERE id = 9`))
			e.want("user 9 moved", e.str(e.db, count, 9), "0")
			e.want("user 10", e.str(e.db, key, 10), "nine")
			e.want("scan after inserts", e.str(e.db, scan), "3")
			e.exec(e.db, n(`DELETE FROM users WHERE id = ?`), 10)
			e.want("scan after delete", e.str(e.db, scan), "2")
		}
	})
}

// A BEFORE trigger may change the key of the row written: such a table
// falls back to table tags. An AFTER trigger that writes another table
// keeps row tags (its table is invalidated whole).
func TestRowTagsTriggers(t *testing.T) {
	for _, b := range backends[1:3] { // PostgreSQL: the catalog reads trigger timing
		t.Run(b.name, func(t *testing.T) {
			e := b.openDSN(t, b.fresh(t), false)
			for _, q := range []string{
				`CREATE TABLE shifted (id bigint PRIMARY KEY, note text)`,
				`CREATE FUNCTION shift() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.id := NEW.id + 100; RETURN NEW; END $$`,
				`CREATE TRIGGER shift_before BEFORE INSERT ON shifted FOR EACH ROW EXECUTE FUNCTION shift()`,
				`CREATE TABLE logged (id bigint PRIMARY KEY, note text)`,
				`CREATE TABLE log (id bigint, note text)`,
				`CREATE FUNCTION log_it() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO log VALUES (NEW.id, NEW.note); RETURN NEW; END $$`,
				`CREATE TRIGGER log_after AFTER INSERT OR UPDATE ON logged FOR EACH ROW EXECUTE FUNCTION log_it()`,
				`INSERT INTO logged VALUES (1, 'a'), (2, 'b')`,
			} {
				e.rawExec(q)
			}
			if err := yoked.WaitCatalog(context.Background(), e.db); err != nil {
				t.Fatal(err)
			}
			count := `SELECT count(*) FROM shifted WHERE id = $1`
			e.want("absent", e.str(e.db, count, 105), "0")
			e.hit(func() { e.str(e.db, count, 105) })
			e.exec(e.db, `INSERT INTO shifted (id, note) VALUES (5, 'x')`)
			e.want("the row the trigger moved", e.str(e.db, count, 105), "1")
			got := e.bumped([]string{"table:logged", "set:logged", "row:logged(id=1)", "table:log"}, func() {
				e.exec(e.db, `UPDATE logged SET note = 'c' WHERE id = $1`, 1)
			})
			if want := []string{"row:logged(id=1)", "set:logged", "table:log"}; !slices.Equal(got, want) {
				t.Errorf("update of a table with an AFTER trigger invalidated %q, want %q", got, want)
			}
		})
	}
}
