package driver_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"

	_ "github.com/mattn/go-sqlite3"

	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/tagstore/memory"
)

// exampleDB opens a fresh SQLite file through yoked with a store of its own,
// so that each example's counters start at zero, and creates a users table.
func exampleDB() (*sql.DB, *yoked.Cache, func()) {
	db, cache, _, done := exampleDBAt()
	return db, cache, done
}

// exampleDBAt is exampleDB that also returns the DSN, for a second,
// unwrapped connection to the same file.
func exampleDBAt() (*sql.DB, *yoked.Cache, string, func()) {
	dir, err := os.MkdirTemp("", "yoked-example-")
	if err != nil {
		log.Fatal(err)
	}
	store, err := memory.New(nil)
	if err != nil {
		log.Fatal(err)
	}
	dsn := "file:" + filepath.Join(dir, "app.db")
	db, err := yoked.Open("sqlite3", dsn, yoked.WithStore(store))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, plan TEXT)`); err != nil {
		log.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO users VALUES (42, 'Ada', 'free'), (43, 'Alan', 'pro')`); err != nil {
		log.Fatal(err)
	}
	cache, err := yoked.CacheOf(db)
	if err != nil {
		log.Fatal(err)
	}
	return db, cache, dsn, func() { db.Close(); store.Close(); os.RemoveAll(dir) }
}

func planOf(ctx context.Context, db *sql.DB, id int) string {
	var plan string
	if err := db.QueryRowContext(ctx, `SELECT plan FROM users WHERE id = ?`, id).Scan(&plan); err != nil {
		log.Fatal(err)
	}
	return plan
}

// A read is cached under the tag of every table it reads; a write through
// yoked invalidates the tags of the tables it writes before Exec returns.
func ExampleOpen() {
	db, cache, done := exampleDB()
	defer done()
	ctx := context.Background()

	fmt.Println(planOf(ctx, db, 42)) // miss: read from SQLite, stored
	fmt.Println(planOf(ctx, db, 42)) // hit
	if _, err := db.ExecContext(ctx, `UPDATE users SET plan = 'pro' WHERE id = 42`); err != nil {
		log.Fatal(err)
	}
	fmt.Println(planOf(ctx, db, 42)) // table:users was invalidated: miss, new value
	s := cache.Stats()
	fmt.Printf("hits=%d misses=%d invalidations=%d\n", s.Hits, s.Misses, s.Invalidations)
	// Output:
	// free
	// free
	// pro
	// hits=1 misses=2 invalidations=3
}

// A transaction's writes are invalidated after the database commits them,
// before Commit returns; a rollback invalidates nothing. Reads inside the
// transaction go to the database, so they see the transaction's own writes.
func ExampleCache_Stats_transactions() {
	db, cache, done := exampleDB()
	defer done()
	ctx := context.Background()
	planOf(ctx, db, 43) // cached

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE users SET plan = 'free' WHERE id = 43`); err != nil {
		log.Fatal(err)
	}
	var inside string
	if err := tx.QueryRowContext(ctx, `SELECT plan FROM users WHERE id = ?`, 43).Scan(&inside); err != nil {
		log.Fatal(err)
	}
	fmt.Println("inside the transaction:", inside)
	fmt.Println("outside, before commit:", planOf(ctx, db, 43))
	if err := tx.Commit(); err != nil {
		log.Fatal(err)
	}
	fmt.Println("after commit:", planOf(ctx, db, 43))

	tx, err = db.BeginTx(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE users SET plan = 'gone' WHERE id = 43`); err != nil {
		log.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		log.Fatal(err)
	}
	fmt.Println("after rollback:", planOf(ctx, db, 43))
	fmt.Println("skipped in transaction:", cache.Stats().Skips["in_transaction"])
	// Output:
	// inside the transaction: free
	// outside, before commit: pro
	// after commit: free
	// after rollback: free
	// skipped in transaction: 1
}

// Entity tags narrow invalidation: the reads of one user carry "user:42",
// and code that knows only user 42 changed drops just those.
func ExampleWithTags() {
	db, cache, done := exampleDB()
	defer done()
	ctx := context.Background()
	user := func(id int) context.Context { return yoked.WithTags(ctx, fmt.Sprintf("user:%d", id)) }

	planOf(user(42), db, 42)
	planOf(user(43), db, 43)
	cache.InvalidateTags(ctx, "user:42") // for example after a change made by another service
	planOf(user(42), db, 42)             // miss
	planOf(user(43), db, 43)             // still a hit
	s := cache.Stats()
	fmt.Printf("hits=%d misses=%d\n", s.Hits, s.Misses)
	// Output:
	// hits=1 misses=3
}

// A write yoked cannot see (another program, a raw connection) is served
// stale until the TTL, unless the application says what changed.
func ExampleCache_InvalidateTables() {
	db, cache, dsn, done := exampleDBAt()
	defer done()
	ctx := context.Background()
	planOf(ctx, db, 42) // cached: free

	// Another program (here: plain go-sqlite3) writes the same database.
	other, err := sql.Open("sqlite3", dsn)
	if err != nil {
		log.Fatal(err)
	}
	defer other.Close()
	if _, err := other.ExecContext(ctx, `UPDATE users SET plan = 'pro' WHERE id = 42`); err != nil {
		log.Fatal(err)
	}
	fmt.Println("before:", planOf(ctx, db, 42)) // stale: yoked did not see the write
	cache.InvalidateTables(ctx, "users")
	fmt.Println("after:", planOf(ctx, db, 42))
	// Output:
	// before: free
	// after: pro
}

// A scope keeps results apart (it is part of the cache key) and tags them,
// so one tenant's entries can be dropped without touching another's.
func ExampleWithScope() {
	db, cache, done := exampleDB()
	defer done()
	ctx := context.Background()
	acme := yoked.WithScope(ctx, "tenant:acme")
	globex := yoked.WithScope(ctx, "tenant:globex")

	planOf(acme, db, 42)   // miss
	planOf(globex, db, 42) // miss: another scope, another entry
	planOf(acme, db, 42)   // hit
	cache.InvalidateTags(ctx, "tenant:acme")
	planOf(acme, db, 42)   // miss
	planOf(globex, db, 42) // hit
	s := cache.Stats()
	fmt.Printf("hits=%d misses=%d\n", s.Hits, s.Misses)
	// Output:
	// hits=2 misses=3
}

// Pattern invalidation drops every tag (and key) matching a glob. It walks
// the store, so keep it for rare, operator-driven changes.
func ExampleCache_Store_invalidatePattern() {
	db, cache, done := exampleDB()
	defer done()
	ctx := context.Background()
	for _, id := range []int{42, 43} {
		planOf(yoked.WithTags(ctx, fmt.Sprintf("user:%d", id)), db, id)
	}
	if _, err := cache.Store().InvalidatePattern(ctx, "user:*"); err != nil {
		log.Fatal(err)
	}
	for _, id := range []int{42, 43} {
		planOf(yoked.WithTags(ctx, fmt.Sprintf("user:%d", id)), db, id)
	}
	s := cache.Stats()
	fmt.Printf("hits=%d misses=%d\n", s.Hits, s.Misses)
	// Output:
	// hits=0 misses=4
}

// SkipCache sends one read to the database without touching the cache;
// Refresh reads the database and replaces the cached result.
func ExampleSkipCache() {
	db, cache, done := exampleDB()
	defer done()
	ctx := context.Background()
	planOf(ctx, db, 42)                  // miss, stored
	planOf(yoked.SkipCache(ctx), db, 42) // database, cache untouched
	planOf(yoked.Refresh(ctx), db, 42)   // database, entry replaced
	planOf(ctx, db, 42)                  // hit
	s := cache.Stats()
	fmt.Printf("hits=%d misses=%d skipped=%d\n", s.Hits, s.Misses, s.Skips["context"])
	// Output:
	// hits=1 misses=2 skipped=1
}
