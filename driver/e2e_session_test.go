package driver_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"testing"

	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/internal/testenv"
)

// Statements that change what later reads of the same connection return
// (role, search path, settings read by policies, database, character set):
// after one, the connection neither reads nor fills the cache.
func TestE2ESessionStatementsTaintTheConnection(t *testing.T) {
	cases := map[string][]string{
		"postgres": {
			`SET ROLE pg_read_all_data`,
			`SET SESSION AUTHORIZATION pg_read_all_data`,
			`SET search_path TO public`,
			`SELECT set_config('app.tenant', 'acme', false)`,
			`SET app.tenant = 'acme'`,
			`SET TIME ZONE 'America/New_York'`,
			`SET DateStyle = 'German'`,
			`SET statement_timeout = '5s'; SET search_path TO public`,
		},
		"mysql": {
			`USE test`,
			`SET NAMES latin1`,
			`SET @tenant = 'acme'`,
			`SET SESSION sql_mode = 'ANSI_QUOTES'`,
			`SET time_zone = '+05:00'`,
			`SET foreign_key_checks = 0, @x = 1`,
			`SET SESSION TRANSACTION ISOLATION LEVEL READ UNCOMMITTED`,
		},
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		for _, stmt := range cases[b.dialect] {
			t.Run(stmt, func(t *testing.T) {
				e := b.open(t)
				ctx := context.Background()
				q := `SELECT name FROM users WHERE id = 1`
				e.str(e.db, q)
				e.hit(func() { e.str(e.db, q) })
				conn, err := e.db.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				schema := e.str(conn, map[string]string{"postgres": `SELECT current_schema()`, "mysql": `SELECT DATABASE()`}[b.dialect])
				if strings.HasPrefix(stmt, "SELECT") {
					e.str(conn, stmt)
				} else {
					e.exec(conn, stmt)
				}
				switch stmt {
				case `USE test`, `SET search_path TO public`, `SET statement_timeout = '5s'; SET search_path TO public`:
					// users is not there: read it qualified.
					q = `SELECT name FROM ` + schema + `.users WHERE id = 1`
				}
				skips := e.cache.Stats().Skips["session_state"]
				e.miss(func() { e.str(conn, q) })
				e.miss(func() { e.str(conn, q) })
				if got := e.cache.Stats().Skips["session_state"]; got != skips+2 {
					t.Fatalf("reads after %q skipped for session state %d times, want 2", stmt, got-skips)
				}
			})
		}
	})
}

// Statements that cannot change what a later read returns leave the
// connection caching: settings that only bound time, name the application,
// log, or check writes; and settings of the connection's identity assigned
// the value they already have (SET NAMES to the current character set).
func TestE2EHarmlessSessionStatementsKeepCaching(t *testing.T) {
	cases := map[string][]string{
		"postgres": {
			`SET application_name = 'yk'`,
			`SET statement_timeout = '5s'`,
			`SET lock_timeout = '2s'`,
			`SET idle_in_transaction_session_timeout = '1min'`,
			`RESET statement_timeout`,
			`SET search_path TO %s`,
			`RESET ROLE`,
		},
		"mysql": {
			`SET FOREIGN_KEY_CHECKS = 0`,
			`SET FOREIGN_KEY_CHECKS = 1`,
			`SET unique_checks = 0`,
			`SET NAMES utf8mb4`,
			`SET SESSION sql_mode = @@session.sql_mode`,
			`SET SESSION lock_wait_timeout = 20`,
			`SET SESSION max_statement_time = 10`,
			`SET sql_notes = 0`,
		},
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		for _, stmt := range cases[b.dialect] {
			t.Run(stmt, func(t *testing.T) {
				e, conn, q := b.openConn(t)
				e.hit(func() { e.str(conn, q) })
				if strings.Contains(stmt, "%s") {
					stmt = fmt.Sprintf(stmt, e.str(conn, `SELECT current_schema()`))
				}
				e.exec(conn, stmt)
				e.hit(func() { e.str(conn, q) })
				e.hit(func() { e.str(conn, q) })
				if n := e.cache.Stats().Skips["session_state"]; n != 0 {
					t.Fatalf("%d reads skipped for session state after %q", n, stmt)
				}
			})
		}
	})
}

// openConn opens b and pins one connection, whose read of user 1's name
// (returned) is cached.
func (b backend) openConn(t *testing.T) (*e2e, *sql.Conn, string) {
	t.Helper()
	e := b.open(t)
	e.ready(e.db)
	conn, err := e.db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	q := `SELECT name FROM users WHERE id = 1`
	e.str(conn, q)
	return e, conn, q
}

// DISCARD ALL returns a PostgreSQL session to the state it opened with:
// a connection tainted by SET caches again afterwards.
func TestE2EDiscardAllClearsTheTaint(t *testing.T) {
	for _, b := range backends {
		if b.name != "postgres" {
			continue // pgx keeps prepared statements that DISCARD ALL drops
		}
		e, conn, q := b.openConn(t)
		ctx := context.Background()
		schema := e.str(conn, `SELECT current_schema()`)
		e.exec(conn, `SET search_path TO public, `+schema)
		e.miss(func() { e.str(conn, q) })
		e.exec(conn, `DISCARD ALL`)
		e.hit(func() { e.want("after DISCARD ALL", e.str(conn, q), "ada") })
		// A DISCARD ALL that failed (inside a transaction block) clears nothing.
		e.exec(conn, `SET search_path TO public, `+schema)
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(`DISCARD ALL`); err == nil {
			t.Fatal("DISCARD ALL inside a transaction block succeeded")
		}
		tx.Rollback()
		e.miss(func() { e.str(conn, q) })
	}
}

// Two pools on different databases (or as different users) that share one
// store never answer each other's reads: the key carries the DSN identity.
func TestE2EPoolsSharingAStoreNeverMix(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		store := mustMemory(t)
		e1 := b.open(t, yoked.WithStore(store))
		e2 := b.open(t, yoked.WithStore(store))
		e2.rawExec(`UPDATE users SET name = 'other' WHERE id = 1`)
		q := `SELECT name FROM users WHERE id = 1`
		for range 2 {
			e1.want("db 1", e1.str(e1.db, q), "ada")
			e2.want("db 2", e2.str(e2.db, q), "other")
		}
		// The shared store still shares invalidations: a write through one
		// pool is never missed by the other.
		e1.exec(e1.db, `UPDATE users SET name = 'ada1' WHERE id = 1`)
		e1.want("db 1 after write", e1.str(e1.db, q), "ada1")
		e2.want("db 2 after db 1 write", e2.str(e2.db, q), "other")
	})
	t.Run("postgres_users", func(t *testing.T) {
		// One database, two users: a role that sees a table through a
		// column privilege only.
		dsn := testenv.PostgresSchema(t)
		raw, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		role := testenv.Name("yk_role_")
		for _, q := range []string{
			`CREATE TABLE secrets (id int, v text)`, `INSERT INTO secrets VALUES (1, 'owner')`,
			`CREATE ROLE ` + role + ` LOGIN`,
		} {
			if _, err := raw.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		t.Cleanup(func() {
			raw, _ := sql.Open("pgx", dsn)
			defer raw.Close()
			raw.Exec(`DROP OWNED BY ` + role)
			raw.Exec(`DROP ROLE ` + role)
		})
		var schema string
		if err := raw.QueryRow(`SELECT current_schema()`).Scan(&schema); err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec(`GRANT USAGE ON SCHEMA ` + schema + ` TO ` + role); err != nil {
			t.Fatal(err)
		}
		store := mustMemory(t)
		owner, err := yoked.Open("pgx", dsn, yoked.WithStore(store))
		if err != nil {
			t.Fatal(err)
		}
		defer owner.Close()
		other, err := yoked.Open("pgx", replaceUser(t, dsn, role), yoked.WithStore(store))
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		q := `SELECT v FROM secrets WHERE id = 1`
		for range 2 {
			var v string
			if err := owner.QueryRow(q).Scan(&v); err != nil || v != "owner" {
				t.Fatalf("owner: %q %v", v, err)
			}
			if err := other.QueryRow(q).Scan(&v); err == nil {
				t.Fatalf("a role without privileges read %q: served from the owner's cache", v)
			}
		}
	})
}

// replaceUser returns the URL DSN with another user and no password.
func replaceUser(t *testing.T, dsn, user string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(user)
	return u.String()
}
