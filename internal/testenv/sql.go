package testenv

import (
	"context"
	"database/sql"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/lib/pq"
)

const (
	defaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	defaultMySQL    = "root@tcp(127.0.0.1:3306)/test?parseTime=true"
	startPostgres   = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
	startMySQL      = "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd"
)

var (
	pgOnce, myOnce sync.Once
	pgErr, myErr   error
)

func ping(driverName, dsn string) error {
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}

// Postgres returns the DSN (URL form, for lib/pq and pgx) of a running
// PostgreSQL, or skips t (fails it under CI).
func Postgres(t testing.TB) string {
	t.Helper()
	dsn := env("YOKED_TEST_POSTGRES", defaultPostgres)
	pgOnce.Do(func() { pgErr = ping("postgres", dsn) })
	if pgErr != nil {
		unavailable(t, "no PostgreSQL at %s (%v): start it with `%s`, or set YOKED_TEST_POSTGRES", redact(dsn), pgErr, startPostgres)
	}
	return dsn
}

// PostgresSchema creates a fresh schema, dropped with everything in it at
// cleanup, and returns a DSN whose search_path is that schema, so that tests
// never see each other's tables.
func PostgresSchema(t testing.TB) string {
	t.Helper()
	base := Postgres(t)
	schema := Name("yk_")
	db, err := sql.Open("postgres", base)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("postgres", base)
		if err != nil {
			return
		}
		defer db.Close()
		db.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("YOKED_TEST_POSTGRES must be a URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// MySQL returns the go-sql-driver DSN of a running MariaDB/MySQL, or skips t
// (fails it under CI).
func MySQL(t testing.TB) string {
	t.Helper()
	dsn := env("YOKED_TEST_MYSQL", defaultMySQL)
	myOnce.Do(func() { myErr = ping("mysql", dsn) })
	if myErr != nil {
		unavailable(t, "no MariaDB/MySQL at %s (%v): start it with `%s`, or set YOKED_TEST_MYSQL", dsn, myErr, startMySQL)
	}
	return dsn
}

// MySQLDatabase creates a fresh database, dropped at cleanup, and returns a
// DSN that uses it.
func MySQLDatabase(t testing.TB) string {
	t.Helper()
	base := MySQL(t)
	name := Name("yk_")
	db, err := sql.Open("mysql", base)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("mysql", base)
		if err != nil {
			return
		}
		defer db.Close()
		db.Exec(`DROP DATABASE IF EXISTS ` + name)
	})
	cfg, err := mysql.ParseDSN(base)
	if err != nil {
		t.Fatalf("YOKED_TEST_MYSQL: %v", err)
	}
	cfg.DBName = name
	return cfg.FormatDSN()
}

func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "the configured DSN"
	}
	return u.Redacted()
}
