package driver_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/tagstore"
)

// With a change feed required, reads are cached only while the feed's
// heartbeat is recent; a stale or absent heartbeat bypasses with feed_lag.
func TestChangeFeedGate(t *testing.T) {
	store := mustMemory(t)
	db, _, cache := openSQLite(t, yoked.WithStore(store), yoked.WithChangeFeed(300*time.Millisecond))
	beat := func(at time.Time) {
		v := strconv.FormatInt(at.UnixNano(), 10) + " 0/0"
		if err := store.SetMark(context.Background(), "changefeed.heartbeat", []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	read := func() {
		var n int
		if err := db.QueryRow("SELECT count(*) FROM users").Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	lagSkips := func() uint64 { return cache.Stats().Skips["feed_lag"] }

	read()
	read()
	if got := lagSkips(); got != 2 {
		t.Fatalf("no heartbeat: %d feed_lag skips, want 2", got)
	}
	beat(time.Now())
	time.Sleep(100 * time.Millisecond) // past the poll period (maxLag/4)
	hits := cache.Stats().Hits
	read()
	read()
	if cache.Stats().Hits == hits || lagSkips() != 2 {
		t.Fatalf("fresh heartbeat: stats %+v", cache.Stats())
	}
	// The feed stops: once the last heartbeat is older than maxLag, every
	// read goes to the database.
	time.Sleep(400 * time.Millisecond)
	hits = cache.Stats().Hits
	read()
	if cache.Stats().Hits != hits || lagSkips() != 3 {
		t.Fatalf("stale heartbeat: stats %+v", cache.Stats())
	}
}

func TestChangeFeedConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  string
		url  string
	}{
		{"bad env", "soon", ""},
		{"negative env", "-1s", ""},
		{"bad URL", "", "memory://?feed=soon"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("YOKED_FEED_MAX_LAG", tc.env)
			t.Setenv("YOKED_STORE", tc.url)
			db, err := yoked.Open("sqlite3", "file::memory:")
			if err == nil {
				err = db.Ping()
				db.Close()
			}
			if !errors.Is(err, yoked.ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
		})
	}
	// A store without marks cannot carry a feed.
	_, err := yoked.Open("sqlite3", "file::memory:", yoked.WithStore(markless{mustMemory(t)}), yoked.WithChangeFeed(time.Second))
	if !errors.Is(err, yoked.ErrConfig) {
		t.Fatalf("store without marks: err = %v", err)
	}
	// feed= on the store URL is taken off before the store sees it.
	t.Setenv("YOKED_STORE", "memory://?feed=2s&max_bytes=100000")
	db, err := yoked.Open("sqlite3", "file::memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT 1").Scan(&n); err != nil {
		t.Fatal(err)
	}
	cache, err := yoked.CacheOf(db)
	if err != nil {
		t.Fatal(err)
	}
	if got := cache.Stats().Skips["feed_lag"]; got != 1 {
		t.Fatalf("feed=2s on the store URL: %d feed_lag skips, want 1", got)
	}
}

type markless struct{ tagstore.Store }
