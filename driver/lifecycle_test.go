package driver_test

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/internal/testenv"
	"github.com/yokedcache/yoked/tagstore"
	"github.com/yokedcache/yoked/tagstore/redisstore"
)

func sqliteFile(t *testing.T) string {
	t.Helper()
	dsn := filepath.Join(t.TempDir(), "l.db")
	raw, err := sql.Open("sqlite3", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a')`); err != nil {
		t.Fatal(err)
	}
	return dsn
}

// readTwice reads row 1 twice and returns the cache's hits and stores.
func readTwice(t *testing.T, db *sql.DB) (hits, stores uint64) {
	t.Helper()
	if err := yoked.WaitCatalog(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		var v string
		if err := db.QueryRow(`SELECT v FROM t WHERE id = 1`).Scan(&v); err != nil {
			t.Fatal(err)
		}
	}
	c, err := yoked.CacheOf(db)
	if err != nil {
		t.Fatal(err)
	}
	st := c.Stats()
	return st.Hits, st.Stores
}

// The stores yoked opens by URL are shared by the DBs of the process and
// closed with the last of them: their connections go away and their
// counters reach the shared hash.
func TestDBCloseReleasesStore(t *testing.T) {
	srv := testenv.StartRedis(t)
	ns := testenv.Name("life")
	url := "redis://" + srv.Addr() + "/0?timeout=2s"
	dsn := sqliteFile(t)
	a, err := yoked.Open("sqlite3", dsn, yoked.WithStoreURL(url), yoked.WithNamespace(ns))
	if err != nil {
		t.Fatal(err)
	}
	b, err := yoked.Open("sqlite3", dsn, yoked.WithStoreURL(url), yoked.WithNamespace(ns))
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := yoked.CacheOf(a)
	cb, _ := yoked.CacheOf(b)
	if ca != cb {
		t.Fatal("two DBs on one store URL and namespace do not share the cache")
	}
	store := ca.Store()
	if hits, _ := readTwice(t, a); hits == 0 {
		t.Fatal("no hit")
	}
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer raw.Close()
	clients := func() int {
		list, err := raw.ClientList(context.Background()).Result()
		if err != nil {
			t.Fatal(err)
		}
		return strings.Count(list, "\n")
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := store.Lookup(context.Background(), "k", []string{"x"}); err != nil {
		t.Fatalf("the store closed while another DB uses it: %v", err)
	}
	before := clients()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := store.Lookup(context.Background(), "k", []string{"x"}); !errors.Is(err, tagstore.ErrClosed) {
		t.Fatalf("Lookup after the last DB closed: %v, want ErrClosed", err)
	}
	if after := clients(); after >= before {
		t.Errorf("Redis clients: %d before the last Close, %d after", before, after)
	}
	rs, err := redisstore.NewFromURL(url, redisstore.Options{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	shared, err := rs.SharedStats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if shared.Hits == 0 {
		t.Errorf("shared counters after Close: %+v, want the closed store's hits", shared)
	}
	// A new DB on the same URL opens a new store.
	c, err := yoked.Open("sqlite3", dsn, yoked.WithStoreURL(url), yoked.WithNamespace(ns))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if hits, _ := readTwice(t, c); hits == 0 {
		t.Fatal("no hit on the store opened again")
	}
}

// Redis refusing the connection itself (no such database, wrong password)
// is a configuration error at open; an unreachable Redis is not.
func TestStoreRefusedAtOpenIsConfigError(t *testing.T) {
	addr := testenv.Redis(t)
	for _, u := range []string{"redis://" + addr + "/99", "redis://nobody:wrong@" + addr + "/0"} {
		_, err := yoked.Open("sqlite3", ":memory:", yoked.WithStoreURL(u))
		if !errors.Is(err, yoked.ErrConfig) {
			t.Errorf("%s: %v, want an error wrapping ErrConfig", u, err)
		}
	}
	db, err := yoked.Open("sqlite3", ":memory:", yoked.WithStoreURL("redis://"+closedPort(t)+"/0"))
	if err != nil {
		t.Fatalf("unreachable Redis at open: %v, want a DB that fails open", err)
	}
	db.Close()
}

// go-redis's own lines go to the configured logger, and the first failure
// is one Warn. The stores NewFromURL builds hand a failed dial back as a
// failing connection (redisstore's keepDialing), and go-redis does not log a
// dial that ran out of its context's time, so the test makes go-redis log
// one itself: a dial without a deadline on the application's own client.
func TestStoreLogsThroughSlog(t *testing.T) {
	var buf syncBuf
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	addr := closedPort(t)
	db, err := yoked.Open("sqlite3", sqliteFile(t), yoked.WithStoreURL("redis://"+addr+"/0"),
		yoked.WithNamespace(testenv.Name("log")), yoked.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	client := redis.NewClient(&redis.Options{Addr: addr, DialerRetries: 1})
	defer client.Close()
	if err := client.Ping(context.Background()).Err(); err == nil {
		t.Fatal("PING of a closed port answered")
	}
	for range 20 {
		var v string
		if err := db.QueryRow(`SELECT v FROM t WHERE id = 1`).Scan(&v); err != nil {
			t.Fatal(err)
		}
	}
	out := buf.String()
	if !strings.Contains(out, "go-redis") {
		t.Errorf("no go-redis line reached the logger:\n%s", out)
	}
	if n := strings.Count(out, "level=WARN msg=\"redisstore: Redis failed"); n != 1 {
		t.Errorf("%d warnings of the failure, want 1:\n%s", n, out)
	}
}

// A Redis store given with WithStore must encode results with yoked's
// codec; with it, or through WithRedisClient, it caches.
func TestBringYourOwnRedis(t *testing.T) {
	addr := testenv.Redis(t)
	dsn := sqliteFile(t)
	ns := testenv.Name("byo")
	plain, err := redisstore.NewFromURL("redis://"+addr+"/0?namespace="+ns, redisstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, err := yoked.Open("sqlite3", dsn, yoked.WithStore(plain)); !errors.Is(err, yoked.ErrConfig) {
		t.Fatalf("WithStore of a store with the bytes codec: %v, want ErrConfig", err)
	}

	good, err := redisstore.NewFromURL("redis://"+addr+"/0?namespace="+ns+"&timeout=2s", redisstore.Options{Codec: yoked.ResultCodec()})
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	db, err := yoked.Open("sqlite3", dsn, yoked.WithStore(good))
	if err != nil {
		t.Fatal(err)
	}
	if hits, stores := readTwice(t, db); hits == 0 || stores == 0 {
		t.Fatalf("WithStore: %d hits, %d stores", hits, stores)
	}
	db.Close()

	client := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	defer client.Close()
	db, err = yoked.Open("sqlite3", dsn, yoked.WithRedisClient(client, redisstore.Options{Timeout: 2e9}), yoked.WithNamespace(ns+"c"))
	if err != nil {
		t.Fatal(err)
	}
	if hits, stores := readTwice(t, db); hits == 0 || stores == 0 {
		t.Fatalf("WithRedisClient: %d hits, %d stores", hits, stores)
	}
	db.Close()
	if err := client.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("closing the DB closed the application's client: %v", err)
	}
}
