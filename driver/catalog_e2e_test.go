package driver_test

import (
	"database/sql"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/mattn/go-sqlite3"

	yoked "github.com/yokedcache/yoked/driver"
)

// Each catalog test creates its schema objects through raw before opening
// yoked (so the first introspection sees them) unless it tests DDL through
// yoked, and checks that a cached read is refreshed by a write yoked can only
// connect to it through the schema.

// countQ returns a query counting rows of table as text.
func (e *e2e) countQ(table string) string {
	if e.b.dialect == "postgres" {
		return `SELECT count(*)::text FROM ` + table
	}
	return `SELECT CAST(count(*) AS CHAR(10)) FROM ` + table
}

// cachedCount reads the count of table twice, the second time from the cache.
func (e *e2e) cachedCount(table, want string) {
	e.t.Helper()
	e.want("count of "+table, e.str(e.db, e.countQ(table)), want)
	e.hit(func() { e.want("cached count of "+table, e.str(e.db, e.countQ(table)), want) })
}

func fkSchema(b backend) []string {
	id := "BIGINT PRIMARY KEY"
	if b.dialect == "sqlite" {
		id = "INTEGER PRIMARY KEY"
	}
	return []string{
		`CREATE TABLE p (id ` + id + `)`,
		`CREATE TABLE c (id ` + id + `, p_id BIGINT REFERENCES p (id) ON DELETE CASCADE)`,
		`CREATE TABLE g (id ` + id + `, c_id BIGINT REFERENCES c (id) ON DELETE SET NULL)`,
		`CREATE TABLE r (id ` + id + `, p_id BIGINT REFERENCES p (id))`, // no action: not invalidated
		`INSERT INTO p VALUES (1), (2)`,
		`INSERT INTO c VALUES (10, 1), (20, 2)`,
		`INSERT INTO g VALUES (100, 10)`,
	}
}

func TestCatalogForeignKeyCascades(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		for _, viaYoked := range []bool{false, true} {
			name := "existing"
			if viaYoked {
				name = "created_through_yoked"
			}
			t.Run(name, func(t *testing.T) {
				e := b.openDSN(t, b.fresh(t), false)
				target := e.raw
				if viaYoked {
					target = e.db
					e.str(e.db, `SELECT 'x'`) // the catalog was read before the DDL
				}
				for _, q := range fkSchema(b) {
					if _, err := target.Exec(q); err != nil {
						t.Fatalf("%s: %v", q, err)
					}
				}
				nullQ := `SELECT CAST(count(c_id) AS CHAR(10)) FROM g`
				if b.dialect == "postgres" {
					nullQ = `SELECT count(c_id)::text FROM g`
				}
				e.cachedCount("c", "2")
				e.want("g.c_id set", e.str(e.db, nullQ), "1")
				e.hit(func() { e.str(e.db, nullQ) })
				e.cachedCount("r", "0")
				e.exec(e.db, `DELETE FROM p WHERE id = 1`)
				e.want("children after parent delete", e.str(e.db, e.countQ("c")), "1")
				e.want("grandchildren set null", e.str(e.db, nullQ), "0")
				e.hit(func() { e.str(e.db, e.countQ("r")) }) // no action: r still cached
			})
		}
	})
}

func TestCatalogNestedViews(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := b.open(t)
		e.rawExec(`CREATE VIEW v1 AS SELECT id, name FROM users WHERE id < 100`)
		e.rawExec(`CREATE VIEW v2 AS SELECT v1.name AS name, o.total AS total FROM v1 JOIN orders o ON o.user_id = v1.id`)
		q := `SELECT name FROM v2 WHERE total = 10`
		e.want("view", e.str(e.db, q), "ada")
		e.hit(func() { e.str(e.db, q) })
		e.exec(e.db, `UPDATE users SET name = 'ann' WHERE id = 1`)
		e.want("after base table write", e.str(e.db, q), "ann")
		e.hit(func() { e.str(e.db, q) })
		e.exec(e.db, `UPDATE orders SET total = 10 WHERE id = 2`)
		var n int
		if err := e.db.QueryRow(`SELECT count(*) FROM v2 WHERE total = 10`).Scan(&n); err != nil || n != 2 {
			t.Fatalf("after orders write: %d %v", n, err)
		}
		e.want("view read after orders write", e.str(e.db, q+` AND name = 'ann'`), "ann")
	})
}

// triggerSQL returns statements creating an AFTER UPDATE trigger on users
// that inserts into audit, with body as the statement (PostgreSQL wraps it
// in a PL/pgSQL function).
func triggerSQL(b backend, name, body string) []string {
	switch b.dialect {
	case "postgres":
		return []string{
			`CREATE FUNCTION ` + name + `_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    ` + body + `;
  END IF;
  RETURN NEW;
END $$`,
			`CREATE TRIGGER ` + name + ` AFTER UPDATE ON users FOR EACH ROW EXECUTE FUNCTION ` + name + `_fn()`,
		}
	case "mysql":
		if name == "trg_tx" {
			// A single statement: BEGIN … END in text yoked runs may mark the connection.
			return []string{`CREATE TRIGGER ` + name + ` AFTER UPDATE ON users FOR EACH ROW ` + body}
		}
		return []string{`CREATE TRIGGER ` + name + ` AFTER UPDATE ON users FOR EACH ROW BEGIN ` + body + `; END`}
	}
	return []string{`CREATE TRIGGER ` + name + ` AFTER UPDATE ON users FOR EACH ROW BEGIN ` + body + `; END`}
}

func TestCatalogTriggers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		t.Run("readable_body", func(t *testing.T) {
			e := b.open(t)
			for _, q := range triggerSQL(b, "trg_audit", `INSERT INTO audit (note) VALUES ('changed')`) {
				e.rawExec(q)
			}
			e = b.openDSN(t, e.dsn, false) // opened after the trigger exists
			e.cachedCount("audit", "0")
			e.cachedCount("orders", "2")
			e.exec(e.db, `UPDATE users SET name = 'ann' WHERE id = 1`)
			e.want("audit after trigger", e.str(e.db, e.countQ("audit")), "1")
			// What the trigger does not write stays cached.
			e.hit(func() { e.str(e.db, e.countQ("orders")) })
		})
		t.Run("created_through_yoked_in_tx", func(t *testing.T) {
			e := b.open(t)
			e.cachedCount("audit", "0")
			e.cachedCount("orders", "2")
			tx, err := e.db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range triggerSQL(b, "trg_tx", `INSERT INTO audit (note) VALUES ('changed')`) {
				e.exec(tx, q)
			}
			e.exec(tx, `UPDATE users SET name = 'ann' WHERE id = 1`)
			if b.dialect == "mysql" {
				// The DDL committed the transaction: the update is visible already.
				e.want("audit after implicit commit", e.str(e.db, e.countQ("audit")), "1")
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			e.want("audit after commit", e.str(e.db, e.countQ("audit")), "1")
			e.cachedCount("audit", "1")
			e.exec(e.db, `UPDATE users SET name = 'bea' WHERE id = 1`)
			e.want("audit after later write", e.str(e.db, e.countQ("audit")), "2")
		})
		if b.dialect != "postgres" {
			return // MySQL and SQLite triggers cannot run dynamic SQL
		}
		// An opaque body invalidates the whole namespace, unless the
		// dependency is declared.
		for _, declared := range []bool{false, true} {
			t.Run(fmt.Sprint("opaque_body_declared=", declared), func(t *testing.T) {
				e := b.open(t)
				for _, q := range triggerSQL(b, "trg_dyn", `EXECUTE 'INSERT INTO aud' || 'it (note) VALUES (1)'`) {
					e.rawExec(q)
				}
				var opts []yoked.Option
				if declared {
					opts = append(opts, yoked.WithDependencies(map[string][]string{"users": {"audit"}}))
				}
				e = b.openDSN(t, e.dsn, false, opts...)
				e.cachedCount("audit", "0")
				e.cachedCount("orders", "2")
				e.exec(e.db, `UPDATE users SET name = 'ann' WHERE id = 1`)
				e.want("audit after opaque trigger", e.str(e.db, e.countQ("audit")), "1")
				if declared {
					e.hit(func() { e.str(e.db, e.countQ("orders")) })
				} else {
					e.miss(func() { e.str(e.db, e.countQ("orders")) })
				}
			})
		}
	})
}

func TestCatalogPostgres(t *testing.T) {
	for _, b := range backends {
		if b.dialect != "postgres" {
			continue
		}
		t.Run(b.name, func(t *testing.T) { testCatalogPostgres(t, b) })
	}
}

func testCatalogPostgres(t *testing.T, b backend) {
	t.Run("partitions", func(t *testing.T) {
		e := b.open(t)
		e.rawExec(`CREATE TABLE m (k int, v text) PARTITION BY RANGE (k)`)
		e.rawExec(`CREATE TABLE m_low PARTITION OF m FOR VALUES FROM (0) TO (100)`)
		e.rawExec(`CREATE TABLE m_high PARTITION OF m FOR VALUES FROM (100) TO (200)`)
		e.rawExec(`INSERT INTO m VALUES (1, 'a'), (150, 'b')`)
		e = b.openDSN(t, e.dsn, false)
		e.cachedCount("m", "2")
		e.cachedCount("m_low", "1")
		e.exec(e.db, `INSERT INTO m_low VALUES (2, 'c')`) // child -> parent
		e.want("parent after child write", e.str(e.db, e.countQ("m")), "3")
		e.cachedCount("m", "3")
		e.exec(e.db, `INSERT INTO m VALUES (3, 'd')`) // parent -> child
		e.want("child after parent write", e.str(e.db, e.countQ("m_low")), "3")
	})
	t.Run("inheritance", func(t *testing.T) {
		e := b.open(t)
		e.rawExec(`CREATE TABLE base_t (k int)`)
		e.rawExec(`CREATE TABLE kid_t () INHERITS (base_t)`)
		e = b.openDSN(t, e.dsn, false)
		e.cachedCount("base_t", "0")
		e.exec(e.db, `INSERT INTO kid_t VALUES (1)`)
		e.want("parent sees child rows", e.str(e.db, e.countQ("base_t")), "1")
	})
	t.Run("materialized_view", func(t *testing.T) {
		e := b.open(t)
		e.rawExec(`CREATE MATERIALIZED VIEW mv AS SELECT count(*) AS n FROM orders`)
		e = b.openDSN(t, e.dsn, false)
		q := `SELECT n::text FROM mv`
		e.want("mv", e.str(e.db, q), "2")
		e.hit(func() { e.str(e.db, q) })
		e.exec(e.db, `INSERT INTO orders VALUES (3, 1, 5)`)
		// Not refreshed: still 2 in the database, and the cached 2 is right.
		e.want("mv before refresh", e.str(e.db, q), "2")
		e.exec(e.db, `REFRESH MATERIALIZED VIEW mv`)
		e.want("mv after refresh", e.str(e.db, q), "3")
	})
	t.Run("functions", func(t *testing.T) {
		e := b.open(t)
		e.rawExec(`CREATE FUNCTION bump() RETURNS int LANGUAGE sql VOLATILE AS $$ INSERT INTO audit (note) VALUES ('bump') RETURNING 1 $$`)
		e.rawExec(`CREATE FUNCTION twice(x bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$ SELECT x * 2 $$`)
		e = b.openDSN(t, e.dsn, false)
		e.cachedCount("audit", "0")
		e.cachedCount("orders", "2")
		// A read calling a volatile user function: never cached, and a write of everything.
		for i := range 2 {
			e.miss(func() { e.str(e.db, `SELECT bump()::text`) })
			e.want("audit after volatile call", e.str(e.db, e.countQ("audit")), string(rune('1'+i)))
		}
		e.miss(func() { e.str(e.db, e.countQ("orders")) })
		// Immutable user functions are fine.
		q := `SELECT twice(total)::text FROM orders WHERE id = 1`
		e.want("immutable", e.str(e.db, q), "20")
		e.hit(func() { e.str(e.db, q) })
		// Stable functions read tables: their reads are tagged with them,
		// directly and through a view.
		e.exec(e.db, `CREATE FUNCTION order_total(i bigint) RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT total FROM orders WHERE id = i $$`)
		e.exec(e.db, `CREATE FUNCTION user_orders(u bigint) RETURNS bigint LANGUAGE plpgsql STABLE AS $$
DECLARE n bigint;
BEGIN
  SELECT count(*) INTO n FROM orders WHERE user_id = u;
  RETURN n;
END $$`)
		e.exec(e.db, `CREATE VIEW user_totals AS SELECT id, name, user_orders(id) AS n FROM users`)
		qs := []string{`SELECT order_total(1)::text`, `SELECT user_orders(1)::text FROM users WHERE id = 1`, `SELECT n::text FROM user_totals WHERE id = 1`}
		want := []string{"10", "1", "1"}
		for i, q := range qs {
			e.want(q, e.str(e.db, q), want[i])
			e.hit(func() { e.str(e.db, q) })
		}
		e.exec(e.db, `UPDATE orders SET total = 15, user_id = 2 WHERE id = 1`)
		want = []string{"15", "0", "0"}
		for i, q := range qs {
			e.want(q+" after orders write", e.str(e.db, q), want[i])
		}
		// A function created behind yoked's back is unknown: not cached.
		e.rawExec(`CREATE FUNCTION later(x int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT x $$`)
		e.str(e.db, `SELECT later(1)::text`)
		e.miss(func() { e.str(e.db, `SELECT later(1)::text`) })
	})
	t.Run("row_level_security", func(t *testing.T) {
		e := b.open(t)
		e.rawExec(`CREATE TABLE docs (id int, tenant text)`)
		e.rawExec(`ALTER TABLE docs ENABLE ROW LEVEL SECURITY`)
		e.rawExec(`INSERT INTO docs VALUES (1, 'a')`)
		e = b.openDSN(t, e.dsn, false)
		q := e.countQ("docs")
		e.str(e.db, q)
		e.miss(func() { e.str(e.db, q) })
		if got := e.cache.Stats().Skips["unscoped_row_security"]; got != 2 {
			t.Fatalf("unscoped RLS reads skipped %d times, want 2", got)
		}
		ctx := yoked.WithScope(t.Context(), "tenant:a")
		var s string
		for i := range 2 {
			h := e.cache.Stats().Hits
			if err := e.db.QueryRowContext(ctx, q).Scan(&s); err != nil {
				t.Fatal(err)
			}
			if got := e.cache.Stats().Hits - h; got != uint64(i) {
				t.Fatalf("scoped read %d: %d hits", i, got)
			}
		}
	})
}

func TestCatalogMySQLStoredFunction(t *testing.T) {
	b := backends[3]
	e := b.open(t)
	e.rawExec(`CREATE FUNCTION bump() RETURNS INT MODIFIES SQL DATA BEGIN INSERT INTO audit (note) VALUES ('bump'); RETURN 1; END`)
	e = b.openDSN(t, e.dsn, false)
	e.cachedCount("audit", "0")
	e.cachedCount("orders", "2")
	for i := range 2 {
		e.miss(func() { e.str(e.db, `SELECT bump()`) })
		e.want("audit after stored function", e.str(e.db, e.countQ("audit")), string(rune('1'+i)))
	}
	e.miss(func() { e.str(e.db, e.countQ("orders")) })
}

var sqliteFuncCalls atomic.Int64

func init() {
	sql.Register("sqlite3_yoked_funcs", &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		if err := c.RegisterFunc("ticket", func() int64 { return sqliteFuncCalls.Add(1) }, false); err != nil {
			return err
		}
		return c.RegisterFunc("double_it", func(x int64) int64 { return 2 * x }, true)
	}})
}

func TestCatalogSQLiteRegisteredFunctions(t *testing.T) {
	b := backends[0]
	b.name = "sqlite3_yoked_funcs"
	e := b.openDSN(t, b.fresh(t), true, yoked.WithDialect("sqlite"))
	e.cachedCount("orders", "2")
	e.str(e.db, `SELECT ticket()`)
	e.miss(func() { e.str(e.db, `SELECT ticket()`) })
	e.miss(func() { e.str(e.db, e.countQ("orders")) }) // non-deterministic: may write
	q := `SELECT double_it(total) FROM orders WHERE id = 1`
	e.want("deterministic function", e.str(e.db, q), "20")
	e.hit(func() { e.str(e.db, q) })
}

func TestCatalogMySQLViewCallingStoredFunction(t *testing.T) {
	b := backends[3]
	e := b.open(t)
	e.rawExec(`CREATE FUNCTION bump() RETURNS INT MODIFIES SQL DATA BEGIN INSERT INTO audit (note) VALUES ('bump'); RETURN 1; END`)
	e.rawExec(`CREATE VIEW bumped AS SELECT id, bump() AS b FROM users`)
	e = b.openDSN(t, e.dsn, false)
	e.cachedCount("audit", "0")
	q := `SELECT CAST(b AS CHAR(3)) FROM bumped WHERE id = 1`
	for i := range 2 {
		e.miss(func() { e.str(e.db, q) })
		var n int
		if err := e.db.QueryRow(`SELECT count(*) FROM audit`).Scan(&n); err != nil || n < i+1 {
			t.Fatalf("audit after reading the view %d times: %d %v", i+1, n, err)
		}
	}
}
