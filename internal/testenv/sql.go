package testenv

import (
	"context"
	"database/sql"
	"net/url"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/lib/pq" // the "postgres" driver the checks below use
)

const (
	defaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	defaultMySQL    = "root@tcp(127.0.0.1:3306)/test?parseTime=true"
	startPostgres   = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
	startMySQL      = "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd"
)

// ping reports whether dsn accepts a connection within a few seconds.
func ping(driverName, dsn string) error {
	return withDB(driverName, dsn, 3*time.Second, (*sql.DB).PingContext)
}

// withDB opens dsn, runs fn bounded by timeout and closes it again.
func withDB(driverName, dsn string, timeout time.Duration, fn func(*sql.DB, context.Context) error) error {
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return fn(db, ctx)
}

// Postgres returns the DSN, in URL form for lib/pq and pgx, of a running
// PostgreSQL (YOKED_TEST_POSTGRES, default database test as user postgres
// on 127.0.0.1:5432), or skips t (fails it under CI) saying what to start.
// Tests that create tables should use PostgresSchema instead.
func Postgres(t testing.TB) string {
	t.Helper()
	dsn := env("YOKED_TEST_POSTGRES", defaultPostgres)
	if err := reachable("postgres "+dsn, func() error { return ping("postgres", dsn) }); err != nil {
		unavailable(t, "no PostgreSQL at %s (%v): start it with `%s`, or set YOKED_TEST_POSTGRES", redactURL(dsn), err, startPostgres)
	}
	return dsn
}

// PostgresSchema creates a fresh, uniquely named schema and returns a DSN
// whose search_path is that schema alone, so unqualified tables a test
// creates are its own. The schema and everything in it are dropped at
// cleanup; connections the test left open must not hold locks by then.
func PostgresSchema(t testing.TB) string {
	t.Helper()
	base := Postgres(t)
	u, err := url.Parse(base)
	if err != nil || u.Scheme == "" {
		t.Fatalf("YOKED_TEST_POSTGRES must be a postgres:// URL to add search_path to: %q", redactURL(base))
	}
	schema := Name("yk_")
	if err := execOnce("postgres", base, `CREATE SCHEMA `+schema); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		if err := execOnce("postgres", base, `DROP SCHEMA IF EXISTS `+schema+` CASCADE`); err != nil {
			t.Logf("testenv: drop schema %s: %v", schema, err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// MySQL returns the go-sql-driver DSN of a running MariaDB or MySQL
// (YOKED_TEST_MYSQL, default database test as root without a password on
// 127.0.0.1:3306), or skips t (fails it under CI) saying what to start.
// Tests that create tables should use MySQLDatabase instead.
func MySQL(t testing.TB) string {
	t.Helper()
	dsn := env("YOKED_TEST_MYSQL", defaultMySQL)
	if err := reachable("mysql "+dsn, func() error { return ping("mysql", dsn) }); err != nil {
		unavailable(t, "no MariaDB/MySQL at %s (%v): start it with `%s`, or set YOKED_TEST_MYSQL", redactMySQL(dsn), err, startMySQL)
	}
	return dsn
}

// MySQLDatabase creates a fresh, uniquely named database and returns a DSN
// that uses it (other parameters as in MySQL). The database is dropped at
// cleanup; connections the test left open must not hold locks by then.
func MySQLDatabase(t testing.TB) string {
	t.Helper()
	base := MySQL(t)
	cfg, err := mysql.ParseDSN(base)
	if err != nil {
		t.Fatalf("YOKED_TEST_MYSQL: %v", err)
	}
	name := Name("yk_")
	if err := execOnce("mysql", base, `CREATE DATABASE `+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := execOnce("mysql", base, `DROP DATABASE IF EXISTS `+name); err != nil {
			t.Logf("testenv: drop database %s: %v", name, err)
		}
	})
	cfg.DBName = name
	return cfg.FormatDSN()
}

// execOnce runs one statement on a connection of its own, bounded (client
// and server side) so that a lock left by a test cannot hang setup or
// cleanup.
func execOnce(driverName, dsn, stmt string) error {
	return withDB(driverName, dsn, 30*time.Second, func(db *sql.DB, ctx context.Context) error {
		conn, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		bound := `SET lock_timeout = '20s'`
		if driverName == "mysql" {
			bound = `SET SESSION lock_wait_timeout = 20`
		}
		if _, err := conn.ExecContext(ctx, bound); err != nil {
			return err
		}
		_, err = conn.ExecContext(ctx, stmt)
		return err
	})
}

func redactURL(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "the configured DSN"
	}
	return u.Redacted()
}

func redactMySQL(dsn string) string {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "the configured DSN"
	}
	if cfg.Passwd != "" {
		cfg.Passwd = "xxxxx"
	}
	return cfg.FormatDSN()
}
