package driver_test

import (
	"context"
	"database/sql"
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
			`SET ROLE postgres`,
			`SET SESSION AUTHORIZATION postgres`,
			`SET search_path TO public`,
			`SELECT set_config('app.tenant', 'acme', false)`,
			`RESET ROLE`,
		},
		"mysql": {
			`USE test`,
			`SET NAMES utf8mb4`,
			`SET @tenant = 'acme'`,
			`SET SESSION sql_mode = 'ANSI_QUOTES'`,
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
				case `USE test`, `SET search_path TO public`:
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
