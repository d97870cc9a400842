package driver_test

import (
	"context"
	"database/sql/driver"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/internal/testenv"
)

// schemaName returns the schema (PostgreSQL) or database (MySQL) the test's
// unqualified names resolve to, "" on SQLite (whose main tables are tagged
// by bare name).
func (e *e2e) schemaName() string {
	e.t.Helper()
	switch e.b.dialect {
	case "postgres":
		return e.str(e.raw, `SELECT current_schema()`)
	case "mysql":
		return e.str(e.raw, `SELECT DATABASE()`)
	}
	return ""
}

// qualify turns a tag of a table named without a schema ("table:users",
// "set:users", "row:users(id=1)") into the tag yoked gives the test's table
// of that name ("table:yk_….users").
func (e *e2e) qualify(tag string) string {
	s := e.schemaName()
	if s == "" {
		return tag
	}
	for _, prefix := range []string{"table:", "set:", "row:"} {
		if rest, ok := strings.CutPrefix(tag, prefix); ok && !strings.Contains(strings.SplitN(rest, "(", 2)[0], ".") {
			return prefix + strings.ToLower(s) + "." + rest
		}
	}
	return tag
}

// decoy creates, beside the test's schema (PostgreSQL) or database (MySQL),
// a decoy one of a unique name holding tables of the same names with what
// makes writes spread: a cascading foreign key, a trigger, a view. It is
// dropped at cleanup.
func (e *e2e) decoy() string {
	e.t.Helper()
	d := testenv.Name("ykd_")
	switch e.b.dialect {
	case "postgres":
		e.rawExec(`CREATE SCHEMA ` + d)
		e.t.Cleanup(func() { e.raw.Exec(`DROP SCHEMA ` + d + ` CASCADE`) })
	case "mysql":
		e.rawExec(`CREATE DATABASE ` + d)
		e.t.Cleanup(func() { e.raw.Exec(`DROP DATABASE ` + d) })
	}
	for _, q := range []string{
		`CREATE TABLE D.users (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL)`,
		`CREATE TABLE D.orders (id BIGINT PRIMARY KEY, user_id BIGINT REFERENCES D.users (id) ON DELETE CASCADE, total BIGINT)`,
		`CREATE TABLE D.audit (id BIGINT, note VARCHAR(200))`,
		`CREATE VIEW D.user_orders AS SELECT u.name AS name, o.total AS total FROM D.users u JOIN D.orders o ON o.user_id = u.id`,
		`INSERT INTO D.users VALUES (1, 'dee'), (2, 'dan')`,
		`INSERT INTO D.orders VALUES (1, 1, 5), (2, 2, 6)`,
	} {
		e.rawExec(strings.ReplaceAll(q, "D.", d+"."))
	}
	if e.b.dialect == "mysql" {
		// A MySQL trigger's body names tables of the trigger's database.
		e.rawExec(`CREATE TRIGGER ` + d + `.users_log AFTER UPDATE ON ` + d + `.users FOR EACH ROW INSERT INTO audit VALUES (NEW.id, NEW.name)`)
	} else {
		// A PostgreSQL trigger function names tables through its own
		// search_path when it sets one (the writer's otherwise).
		e.rawExec(`CREATE FUNCTION ` + d + `.users_log() RETURNS trigger LANGUAGE plpgsql SET search_path = ` + d + ` AS $$
BEGIN INSERT INTO audit VALUES (NEW.id, NEW.name); RETURN NEW; END $$`)
		e.rawExec(`CREATE TRIGGER users_log AFTER UPDATE ON ` + d + `.users FOR EACH ROW EXECUTE FUNCTION ` + d + `.users_log()`)
	}
	return d
}

// Issue 10 item 4: same-named tables in another schema (PostgreSQL) or
// database (MariaDB), with cascading foreign keys, triggers and views,
// neither spread the test schema's writes (no cross-schema invalidation)
// nor hide their own (no missed invalidation); unqualified names follow
// the search_path or current database, also after the session moves it.
func TestCatalogDecoySchemas(t *testing.T) {
	for _, b := range backends {
		if b.dialect == "sqlite" {
			continue
		}
		t.Run(b.name, func(t *testing.T) {
			e := b.open(t)
			d := e.decoy()
			if b.dialect == "postgres" {
				// Moves the caller's search_path where no statement shows it.
				e.rawExec(`CREATE FUNCTION hop(s text) RETURNS int LANGUAGE plpgsql VOLATILE AS $$
BEGIN PERFORM set_config('search_path', s, false); RETURN 1; END $$`)
			}
			e.rawExec(`CREATE VIEW user_orders AS SELECT u.name AS name, o.total AS total FROM users u JOIN orders o ON o.user_id = u.id`)
			a := e.schemaName()
			sum := `SELECT CAST(sum(total) AS CHAR(10)) FROM `
			if b.dialect == "postgres" {
				sum = `SELECT sum(total)::text FROM `
			}
			// Warm: the test schema's tables, unqualified and qualified,
			// and the decoy's.
			e.cachedCount("orders", "2")
			e.cachedCount(a+".orders", "2")
			e.cachedCount("audit", "0")
			e.cachedCount(d+".orders", "2")
			e.cachedCount(d+".audit", "0")
			e.want("decoy view", e.str(e.db, sum+d+".user_orders"), "11")
			e.hit(func() { e.str(e.db, sum+d+".user_orders") })
			e.want("view", e.str(e.db, sum+"user_orders"), "30")

			// A write of the test schema's users spreads nowhere: the
			// decoy's cascade, trigger and view are the decoy's.
			got := e.bumped([]string{"table:users", "table:orders", "table:audit", "table:" + d + ".users",
				"table:" + d + ".orders", "table:" + d + ".audit", "table:" + d + ".user_orders"}, func() {
				e.exec(e.db, `UPDATE users SET name = 'x' WHERE name = 'ada'`) // not by key: the table tag
			})
			if want := []string{"table:users"}; !slices.Equal(got, want) {
				t.Errorf("UPDATE users invalidated %q, want %q", got, want)
			}
			e.hit(func() { e.str(e.db, e.countQ("orders")) })
			e.hit(func() { e.str(e.db, e.countQ(d+".orders")) })
			e.hit(func() { e.str(e.db, sum+d+".user_orders") })
			e.want("view after users write", e.str(e.db, sum+"user_orders"), "30")

			// The decoy's writes reach the decoy's readers, through its
			// cascade, trigger and view, and nothing of the test schema.
			e.exec(e.db, `UPDATE `+d+`.users SET name = 'y' WHERE id = 2`)
			e.want("decoy audit after its trigger", e.str(e.db, e.countQ(d+".audit")), "1")
			e.hit(func() { e.str(e.db, e.countQ("audit")) })
			e.exec(e.db, `DELETE FROM `+d+`.users WHERE id = 1`)
			e.want("decoy orders after the cascade", e.str(e.db, e.countQ(d+".orders")), "1")
			e.want("decoy view after the cascade", e.str(e.db, sum+d+".user_orders"), "6")
			e.hit(func() { e.str(e.db, e.countQ("orders")) })
			e.hit(func() { e.str(e.db, e.countQ(a+".orders")) })

			// A second handle whose unqualified names reach the decoy
			// first shares the store: names follow its search_path or
			// database, both ways.
			store := e.cache.Store()
			db2, err := yoked.Open(b.name, e.dsnFor(d, a), yoked.WithStore(store))
			if err != nil {
				t.Fatal(err)
			}
			defer db2.Close()
			if err := yoked.WaitCatalog(context.Background(), db2); err != nil {
				t.Fatal(err)
			}
			c2, _ := yoked.CacheOf(db2)
			read2 := func() string { return e.str(db2, e.countQ("orders")) }
			e.want("decoy orders through its path", read2(), "1")
			hit2 := func(want bool) {
				t.Helper()
				h := c2.Stats().Hits
				read2()
				if got := c2.Stats().Hits > h; got != want {
					t.Fatalf("second handle's read of orders served from the cache = %v, want %v", got, want)
				}
			}
			hit2(true)
			e.exec(e.db, `INSERT INTO orders VALUES (3, 1, 1)`) // the test schema's orders
			hit2(true)
			e.exec(e.db, `INSERT INTO `+d+`.orders VALUES (3, 2, 1)`)
			e.want("decoy orders after a qualified write", read2(), "2")
			hit2(true)

			// A session that moves its search_path (or database) writes the
			// decoy through an unqualified name: it must not be missed.
			conn, err := e.db.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			move := `SET search_path TO ` + d
			if b.dialect == "mysql" {
				move = `USE ` + d
			}
			e.exec(conn, move)
			e.exec(conn, `INSERT INTO orders VALUES (4, 2, 1)`)
			e.want("decoy orders after a write through a moved path", read2(), "3")
			if b.dialect == "postgres" {
				// The same through a volatile function's set_config.
				conn2, err := e.db.Conn(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				e.str(conn2, `SELECT hop('`+d+`')::text`)
				e.want("decoy orders after hop", read2(), "3")
				hit2(true)
				e.exec(conn2, `INSERT INTO orders VALUES (5, 2, 1)`)
				e.want("decoy orders after a write through a path a function moved", read2(), "4")
				e.exec(conn2, `DELETE FROM orders WHERE id = 5`)
				// Out of the pool: its session reads the decoy.
				conn2.Raw(func(any) error { return driver.ErrBadConn })
				conn2.Close()
				e.want("decoy orders after the delete", read2(), "3")
			}

			// Writes behind yoked's back: InvalidateTables resolves an
			// unqualified name as this process's connections do, and a
			// qualified one reaches the decoy.
			e.cachedCount("orders", "3")
			hit2(true)
			e.rawExec(`DELETE FROM orders WHERE id = 3`)
			e.cache.InvalidateTables(context.Background(), "orders")
			e.want("orders after InvalidateTables", e.str(e.db, e.countQ("orders")), "2")
			e.rawExec(`DELETE FROM ` + d + `.orders WHERE id = 4`)
			e.cache.InvalidateTables(context.Background(), d+".orders")
			e.want("decoy orders after InvalidateTables", read2(), "2")
		})
	}
}

// dsnFor returns the test's DSN with unqualified names resolving to first,
// then second (PostgreSQL search_path), or to first (MySQL database).
func (e *e2e) dsnFor(first, second string) string {
	e.t.Helper()
	switch e.b.dialect {
	case "postgres":
		u, err := url.Parse(e.dsn)
		if err != nil {
			e.t.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", first+","+second)
		u.RawQuery = q.Encode()
		return u.String()
	case "mysql":
		cfg, err := mysql.ParseDSN(e.dsn)
		if err != nil {
			e.t.Fatal(err)
		}
		cfg.DBName = first
		return cfg.FormatDSN()
	}
	return e.dsn
}

// Issue 10 item 11: the PRAGMAs every SQLite application sends on each
// connection keep it caching. PRAGMA foreign_keys = ON changes what writes
// do (cascades run only then): the catalog's foreign-key actions are
// applied to every write, so the cascade's table is invalidated on the
// connection that turned them on. A PRAGMA that changes what reads return
// (case_sensitive_like) still taints.
func TestSQLitePragmasKeepCaching(t *testing.T) {
	for _, b := range backends {
		if b.dialect != "sqlite" {
			continue
		}
		t.Run(b.name, func(t *testing.T) {
			// Foreign keys off by default: only the PRAGMA turns them on.
			e := b.openDSN(t, "file:"+filepath.Join(t.TempDir(), "fk.db"), false)
			e.db.SetMaxOpenConns(1) // every statement on the connection the PRAGMAs ran on
			for _, q := range fkSchema(b) {
				e.rawExec(q)
			}
			for _, q := range []string{`PRAGMA foreign_keys = ON`, `PRAGMA busy_timeout = 5000`, `PRAGMA synchronous = NORMAL`,
				`PRAGMA cache_size(-4000)`, `PRAGMA main.temp_store = MEMORY`} {
				e.exec(e.db, q)
			}
			e.want("journal_mode", e.str(e.db, `PRAGMA journal_mode = WAL`), "wal")
			e.want("foreign keys on", e.str(e.db, `PRAGMA foreign_keys`), "1")
			e.cachedCount("c", "2") // a hit: the PRAGMAs did not taint the connection
			e.cachedCount("r", "0")
			e.exec(e.db, `DELETE FROM p WHERE id = 1`)
			e.want("children after the cascade", e.str(e.db, e.countQ("c")), "1")
			e.hit(func() { e.str(e.db, e.countQ("r")) }) // no action: still cached
			if got := e.cache.Stats().Skips["session_state"]; got != 0 {
				t.Errorf("%d reads skipped for session state", got)
			}
			e.exec(e.db, `PRAGMA case_sensitive_like = ON`)
			e.miss(func() { e.str(e.db, e.countQ("r")) })
			if got := e.cache.Stats().Skips["session_state"]; got == 0 {
				t.Error("case_sensitive_like did not taint the connection")
			}
		})
	}
}
