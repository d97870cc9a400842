package cgofree

import (
	"context"
	"database/sql"
	"fmt"
	"os"

	yoked "github.com/yokedcache/yoked/driver"
)

// Story runs, on a yoked DB of its own process, the sequence a cache must
// get right: read (miss), read (hit), write, read (the new value, a miss),
// read (hit). It creates and drops the table yoked_story; ph returns the
// dialect's placeholder for the n-th argument ("?" or "$n"). It returns an
// error naming the first step that went wrong.
func Story(db *sql.DB, ph func(n int) string) error {
	cache, err := yoked.CacheOf(db)
	if err != nil {
		return err
	}
	for _, q := range []string{
		`DROP TABLE IF EXISTS yoked_story`,
		`CREATE TABLE yoked_story (id INTEGER PRIMARY KEY, name VARCHAR(20) NOT NULL)`,
		`INSERT INTO yoked_story (id, name) VALUES (1, 'before')`,
	} {
		if _, err := db.Exec(q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	defer db.Exec(`DROP TABLE yoked_story`)
	// Reads bypass the cache until the schema catalog has been read.
	if err := yoked.WaitCatalog(context.Background(), db); err != nil {
		return fmt.Errorf("schema catalog: %w", err)
	}
	read := `SELECT name FROM yoked_story WHERE id = ` + ph(1)
	step := func(what, want string, hit bool) error {
		before := cache.Stats()
		var got string
		if err := db.QueryRow(read, 1).Scan(&got); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		after := cache.Stats()
		if got != want {
			return fmt.Errorf("%s: read %q, want %q", what, got, want)
		}
		if h := after.Hits > before.Hits; h != hit {
			return fmt.Errorf("%s: hit=%v, want %v (stats before %+v, after %+v)", what, h, hit, before, after)
		}
		return nil
	}
	if err := step("first read", "before", false); err != nil {
		return err
	}
	if err := step("second read", "before", true); err != nil {
		return err
	}
	if _, err := db.Exec(`UPDATE yoked_story SET name = `+ph(1)+` WHERE id = `+ph(2), "after", 1); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	if err := step("read after the write", "after", false); err != nil {
		return err
	}
	return step("read again", "after", true)
}

// Main is the whole of a test program: it opens driverName with the DSN in
// YOKED_STORY_DSN, runs Story, prints "ok" and exits 0, or prints the error
// and exits 1.
func Main(driverName string, ph func(n int) string) {
	db, err := sql.Open(driverName, os.Getenv("YOKED_STORY_DSN"))
	if err == nil {
		err = Story(db, ph)
		db.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("ok")
}
