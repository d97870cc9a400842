package driver_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/internal/testenv"
)

// value reads row 1 through db.
func value(t *testing.T, db *sql.DB) string {
	t.Helper()
	var v string
	if err := db.QueryRow(`SELECT v FROM t WHERE id = 1`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// A writer cut off from Redis: in strict mode its writes fail before they
// are sent and the database is unchanged; in the default mode they
// succeed, and another process's readers catch up once the link heals
// (the window is logged for docs/multi-service.md).
func TestCutOffWriter(t *testing.T) {
	srv := testenv.StartRedis(t)
	proxy := testenv.StartProxy(t, srv.Addr())
	ns := testenv.Name("cut")
	dsn := sqliteFile(t)
	open := func(url string, opts ...yoked.Option) *sql.DB {
		db, err := yoked.Open("sqlite3", dsn, append([]yoked.Option{yoked.WithStoreURL(url), yoked.WithNamespace(ns)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := yoked.WaitCatalog(context.Background(), db); err != nil {
			t.Fatal(err)
		}
		return db
	}
	// The reader stands for another process: its own store, straight to Redis.
	reader := open("redis://" + srv.Addr() + "/0?timeout=2s")
	strict := open("redis://" + proxy.Addr() + "/0?timeout=200ms&strict=true")
	lax := open("redis://" + proxy.Addr() + "/0?timeout=200ms")
	raw, err := sql.Open("sqlite3", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()

	value(t, reader)
	if hits, _ := readTwice(t, reader); hits == 0 {
		t.Fatal("the reader does not cache")
	}
	proxy.Cut()

	_, err = strict.Exec(`UPDATE t SET v = 'strict' WHERE id = 1`)
	if !errors.Is(err, yoked.ErrStoreUnreachable) {
		t.Fatalf("strict autocommit write while cut off: %v, want ErrStoreUnreachable", err)
	}
	tx, err := strict.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`UPDATE t SET v = 'strict tx' WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); !errors.Is(err, yoked.ErrStoreUnreachable) {
		t.Fatalf("strict commit while cut off: %v, want ErrStoreUnreachable", err)
	}
	if got := value(t, raw); got != "a" {
		t.Fatalf("the database holds %q after refused strict writes, want %q", got, "a")
	}
	if got := value(t, reader); got != "a" {
		t.Fatalf("reader: %q", got)
	}

	// Default mode: the write goes through.
	if _, err := lax.Exec(`UPDATE t SET v = 'lax' WHERE id = 1`); err != nil {
		t.Fatalf("default-mode write while cut off: %v", err)
	}
	if got := value(t, raw); got != "lax" {
		t.Fatalf("database: %q", got)
	}
	stale := value(t, reader) // documented: stale while the link is cut
	healed := time.Now()
	proxy.Heal()
	for value(t, reader) != "lax" {
		if time.Since(healed) > 10*time.Second {
			t.Fatal("the reader never caught up after the link healed")
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("default mode: reader saw %q while the writer was cut off; caught up %v after the link healed", stale, time.Since(healed))
}
