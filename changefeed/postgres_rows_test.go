package changefeed_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/yokedcache/yoked/changefeed"
	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/internal/testenv"
)

// recorder is a store that records the tags invalidated through it, and
// in what order invalidations of everything and heartbeats came.
type recorder struct {
	changefeed.Store
	mu   sync.Mutex
	tags map[string]bool
	seq  []time.Time // heartbeats written, the zero time for everything invalidated
}

func (r *recorder) SetMark(ctx context.Context, name string, v []byte) error {
	err := r.Store.SetMark(ctx, name, v)
	if hb, _, perr := changefeed.ParseHeartbeat(v); err == nil && perr == nil && name == changefeed.HeartbeatMark {
		r.mu.Lock()
		r.seq = append(r.seq, hb)
		r.mu.Unlock()
	}
	return err
}

const everything = "<everything>"

func (r *recorder) InvalidateTags(ctx context.Context, tags ...string) error {
	err := r.Store.InvalidateTags(ctx, tags...)
	r.mu.Lock()
	for _, t := range tags {
		r.tags[t] = true
	}
	r.mu.Unlock()
	return err
}

func (r *recorder) InvalidateAll(ctx context.Context) error {
	err := r.Store.InvalidateAll(ctx)
	r.mu.Lock()
	r.tags[everything] = true
	if err == nil {
		r.seq = append(r.seq, time.Time{})
	}
	r.mu.Unlock()
	return err
}

// during returns the tags invalidated from the start of write until a
// heartbeat later than its end, sorted.
func (r *recorder) during(t *testing.T, write func()) []string {
	t.Helper()
	r.mu.Lock()
	r.tags = map[string]bool{}
	r.mu.Unlock()
	write()
	after := time.Now()
	eventually(t, 10*time.Second, "heartbeat after the write", func() bool { return heartbeat(t, r).After(after) })
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for tag := range r.tags {
		out = append(out, tag)
	}
	sort.Strings(out)
	return out
}

// Which tags each form of row change invalidates: row and set tags where
// the stream names the row's whole primary key and the schema proves it,
// the table tag (of the whole inheritance tree) everywhere else.
func TestPostgresRowTags(t *testing.T) {
	pg := testenv.StartPostgres(t)
	url := pg.URL()
	pgExec(t, url, `CREATE SCHEMA app;
		CREATE TABLE app.k (id int PRIMARY KEY, v text);
		CREATE TABLE app.txt (name text PRIMARY KEY, v int);
		CREATE TABLE app.comp (a bigint, b varchar(20), v int, PRIMARY KEY (a, b));
		CREATE TABLE app.full (id int PRIMARY KEY, v text); ALTER TABLE app.full REPLICA IDENTITY FULL;
		CREATE TABLE app.idx (id int PRIMARY KEY, code int NOT NULL UNIQUE, v text);
		ALTER TABLE app.idx REPLICA IDENTITY USING INDEX idx_code_key;
		CREATE TABLE app.sub (a int NOT NULL UNIQUE, b int, v text, PRIMARY KEY (a, b));
		ALTER TABLE app.sub REPLICA IDENTITY USING INDEX sub_a_key;
		CREATE TABLE app.nothing (id int PRIMARY KEY, v text); ALTER TABLE app.nothing REPLICA IDENTITY NOTHING;
		CREATE TABLE app.nokey (id int, v text);
		CREATE TABLE app.num (id numeric PRIMARY KEY, v text);
		CREATE TABLE app.big (id int PRIMARY KEY);
		CREATE TABLE app.parted (id int, region int, v text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
		CREATE TABLE app.parted_1 PARTITION OF app.parted FOR VALUES IN (1);
		CREATE TABLE app.parted_2 PARTITION OF app.parted FOR VALUES IN (2);
		CREATE TABLE app.base (id int PRIMARY KEY, v text);
		CREATE TABLE app.heir (extra int) INHERITS (app.base);
		CREATE TABLE app.pk (id int PRIMARY KEY, code text NOT NULL UNIQUE, v text);
		CREATE TABLE app.pkf (id int PRIMARY KEY, code text NOT NULL UNIQUE, v text); ALTER TABLE app.pkf REPLICA IDENTITY FULL;
		INSERT INTO app.txt VALUES ('ada', 1);
		INSERT INTO app.comp VALUES (1, 'x', 1);
		INSERT INTO app.full VALUES (1, 'a');
		INSERT INTO app.idx VALUES (1, 10, 'a');
		INSERT INTO app.sub VALUES (1, 1, 'a');
		INSERT INTO app.parted VALUES (1, 1, 'a');
		INSERT INTO app.pk VALUES (1, 'c1', 'a');
		INSERT INTO app.pkf VALUES (1, 'c1', 'a');`)
	rec := &recorder{Store: newMemory(t), tags: map[string]bool{}}
	start(t, changefeed.Config{Dialect: "postgres", Source: url, Store: rec, RowTag: yoked.RowTag, SetTag: yoked.SetTag})
	eventually(t, 20*time.Second, "first heartbeat", func() bool { return !heartbeat(t, rec).IsZero() })

	for _, tc := range []struct {
		name string
		sql  string
		want []string
	}{
		{"insert", "INSERT INTO app.k VALUES (1, 'a')", []string{"row:app.k(id=1)", "set:app.k"}},
		{"update by key", "UPDATE app.k SET v = 'b' WHERE id = 1", []string{"row:app.k(id=1)", "set:app.k"}},
		{"key-changing update", "UPDATE app.k SET id = 2 WHERE id = 1", []string{"row:app.k(id=1)", "row:app.k(id=2)", "set:app.k"}},
		{"delete", "DELETE FROM app.k WHERE id = 2", []string{"row:app.k(id=2)", "set:app.k"}},
		{"transaction", "BEGIN; INSERT INTO app.k VALUES (3, 'c'), (4, 'd'); UPDATE app.txt SET v = 2; COMMIT",
			[]string{"row:app.k(id=3)", "row:app.k(id=4)", `row:app.txt(name="ada")`, "set:app.k", "set:app.txt"}},
		{"text key", "UPDATE app.txt SET v = 3 WHERE name = 'ada'", []string{`row:app.txt(name="ada")`, "set:app.txt"}},
		{"text key ending in a blank", "INSERT INTO app.txt VALUES ('pad ', 1)", []string{"table:app.txt"}},
		{"composite key", "UPDATE app.comp SET v = 2", []string{`row:app.comp(a=1,b="x")`, "set:app.comp"}},
		{"composite key change", "UPDATE app.comp SET b = 'y'", []string{`row:app.comp(a=1,b="x")`, `row:app.comp(a=1,b="y")`, "set:app.comp"}},
		{"identity full", "UPDATE app.full SET v = 'b'", []string{"row:app.full(id=1)", "set:app.full"}},
		{"identity full key change", "UPDATE app.full SET id = 5", []string{"row:app.full(id=1)", "row:app.full(id=5)", "set:app.full"}},
		{"identity full delete", "DELETE FROM app.full", []string{"row:app.full(id=5)", "set:app.full"}},
		// The identity is another index: an update that changes the key
		// carries no old key.
		{"identity using index", "UPDATE app.idx SET id = 2", []string{"table:app.idx"}},
		{"identity using index insert", "INSERT INTO app.idx VALUES (3, 30, 'c')", []string{"table:app.idx"}},
		// The identity is part of the key.
		{"identity using index in the key", "UPDATE app.sub SET b = 2", []string{"table:app.sub"}},
		{"identity nothing", "INSERT INTO app.nothing VALUES (1, 'a')", []string{"table:app.nothing"}},
		{"no primary key", "INSERT INTO app.nokey VALUES (1, 'a')", []string{"table:app.nokey"}},
		{"inexact key type", "INSERT INTO app.num VALUES (1, 'a')", []string{"table:app.num"}},
		{"partition", "INSERT INTO app.parted VALUES (2, 1, 'b')", []string{"table:app.parted", "table:app.parted_1"}},
		{"row moves partition", "UPDATE app.parted SET region = 2 WHERE id = 1",
			[]string{"table:app.parted", "table:app.parted_1", "table:app.parted_2"}},
		{"inheritance child", "INSERT INTO app.heir VALUES (1, 'a', 1)", []string{"table:app.base", "table:app.heir"}},
		{"inheritance parent", "INSERT INTO app.base VALUES (2, 'a')", []string{"table:app.base", "table:app.heir"}},
		{"truncate", "TRUNCATE app.k", []string{"table:app.k"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := rec.during(t, func() { pgExec(t, url, tc.sql) }); !slices.Equal(got, tc.want) {
				t.Errorf("%s invalidated %q, want %q", tc.sql, got, tc.want)
			}
		})
	}

	t.Run("unchanged toast key", func(t *testing.T) {
		// A key long and random enough to be stored out of line: an update
		// that leaves it sends it as unchanged TOAST in the new tuple.
		rec.during(t, func() {
			pgExec(t, url, "INSERT INTO app.txt SELECT string_agg(md5(i::text), ''), 1 FROM generate_series(1, 70) i")
		})
		got := rec.during(t, func() { pgExec(t, url, "UPDATE app.txt SET v = 9 WHERE length(name) > 100") })
		if want := []string{"table:app.txt"}; !slices.Equal(got, want) {
			t.Errorf("invalidated %q, want %q", got, want)
		}
	})

	t.Run("10k rows", func(t *testing.T) {
		got := rec.during(t, func() { pgExec(t, url, "INSERT INTO app.big SELECT generate_series(1, 10000)") })
		if !slices.Contains(got, "table:app.big") || len(got) > 1002 {
			t.Errorf("10k-row insert invalidated %d tags (table tag: %v), want the table's and at most 1001 more",
				len(got), slices.Contains(got, "table:app.big"))
		}
	})

	// A primary key changed by DDL: the next change names rows by the new
	// key, never the old one (DEFAULT identity, whose key flags move with
	// the key, and FULL, whose flags do not).
	for _, table := range []string{"pk", "pkf"} {
		t.Run("primary key changed by ddl/"+table, func(t *testing.T) {
			got := rec.during(t, func() {
				pgExec(t, url, "ALTER TABLE app."+table+" DROP CONSTRAINT "+table+"_pkey, ADD PRIMARY KEY (code)")
			})
			if !slices.Contains(got, everything) {
				t.Fatalf("DDL invalidated %q, not everything", got)
			}
			got = rec.during(t, func() { pgExec(t, url, "UPDATE app."+table+" SET v = 'z' WHERE code = 'c1'") })
			if want := []string{`row:app.` + table + `(code="c1")`, "set:app." + table}; !slices.Equal(got, want) {
				t.Errorf("update after the key changed invalidated %q, want %q", got, want)
			}
		})
	}

	t.Run("attached later", func(t *testing.T) {
		rec.during(t, func() {
			pgExec(t, url, "CREATE TABLE app.parted_3 (id int, region int, v text, PRIMARY KEY (id, region))")
		})
		got := rec.during(t, func() { pgExec(t, url, "INSERT INTO app.parted_3 VALUES (1, 3, 'a')") })
		if want := []string{"row:app.parted_3(id=1,region=3)", "set:app.parted_3"}; !slices.Equal(got, want) {
			t.Errorf("before attaching: %q, want %q", got, want)
		}
		rec.during(t, func() { pgExec(t, url, "ALTER TABLE app.parted ATTACH PARTITION app.parted_3 FOR VALUES IN (3)") })
		got = rec.during(t, func() { pgExec(t, url, "UPDATE app.parted_3 SET v = 'b'") })
		if want := []string{"table:app.parted", "table:app.parted_3"}; !slices.Equal(got, want) {
			t.Errorf("after attaching: %q, want %q", got, want)
		}
	})

	t.Run("reader", func(t *testing.T) { rowTagsReader(t, url) })
	t.Run("catalog newer than the stream", func(t *testing.T) { rowTagsNewerCatalog(t, url) })
	// Last: it drops the DDL trigger.
	t.Run("without the ddl trigger", func(t *testing.T) {
		pgExec(t, url, `CREATE ROLE feeder LOGIN REPLICATION;
			DROP EVENT TRIGGER yoked_changefeed_ddl_end; DROP EVENT TRIGGER yoked_changefeed_ddl_drop`)
		firstRec := rec
		rec := &recorder{Store: newMemory(t), tags: map[string]bool{}}
		start(t, changefeed.Config{Dialect: "postgres", Source: strings.Replace(url, "postgres@", "feeder@", 1), Store: rec,
			RowTag: yoked.RowTag, SetTag: yoked.SetTag, Slot: "noddl"})
		eventually(t, 20*time.Second, "first heartbeat", func() bool { return !heartbeat(t, rec).IsZero() })
		got := rec.during(t, func() { pgExec(t, url, "INSERT INTO app.k VALUES (7, 'g')") })
		if want := []string{"table:app.k"}; !slices.Equal(got, want) {
			t.Errorf("invalidated %q, want %q: DDL is not in the stream, the key may be stale", got, want)
		}
		// The first watcher, which started with the trigger, reads the
		// schema again after the next ALTER (no DDL message now, but the
		// relation message is sent again) and finds the trigger gone.
		pgExec(t, url, "ALTER TABLE app.k ALTER COLUMN v SET DEFAULT 'x'")
		got = firstRec.during(t, func() { pgExec(t, url, "INSERT INTO app.k VALUES (8, 'h')") })
		if want := []string{"table:app.k"}; !slices.Equal(got, want) {
			t.Errorf("the watcher that started with the trigger invalidated %q, want %q", got, want)
		}
	})
}

// rowTagsNewerCatalog: a watcher that starts after a DDL the stream has not
// delivered yet reads a catalog newer than the changes before that DDL, and
// may name their rows by a key they did not have. No heartbeat may vouch
// for them before the DDL invalidated everything.
func rowTagsNewerCatalog(t *testing.T, url string) {
	pgExec(t, url, `CREATE TABLE app.newer (id int PRIMARY KEY, code text NOT NULL UNIQUE, v text);
		ALTER TABLE app.newer REPLICA IDENTITY FULL; INSERT INTO app.newer VALUES (1, 'c1', 'a')`)
	rec := &recorder{Store: newMemory(t), tags: map[string]bool{}}
	cut := &crashable{Store: rec}
	cfg := changefeed.Config{Dialect: "postgres", Source: url, RowTag: yoked.RowTag, SetTag: yoked.SetTag,
		Slot: "newer", LeaseTTL: 300 * time.Millisecond}
	cfg.Store = cut
	a := start(t, cfg)
	eventually(t, 20*time.Second, "first heartbeat", func() bool { return !heartbeat(t, rec).IsZero() })
	// The watcher cannot reach its store: the change, heartbeats after it
	// and the DDL stay in the slot.
	cut.dead.Store(true)
	pgExec(t, url, "UPDATE app.newer SET v = 'b' WHERE id = 1")
	changed := time.Now()
	time.Sleep(300 * time.Millisecond)
	pgExec(t, url, "ALTER TABLE app.newer DROP CONSTRAINT newer_pkey, ADD PRIMARY KEY (code)")
	a.cancel()
	rec.mu.Lock()
	rec.seq = nil
	rec.mu.Unlock()
	cfg.Store = rec
	start(t, cfg)
	eventually(t, 20*time.Second, "everything invalidated", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return slices.Contains(rec.seq, time.Time{})
	})
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, hb := range rec.seq {
		if hb.IsZero() {
			break
		}
		if hb.After(changed) {
			t.Fatalf("heartbeat %s, after the change, written before the DDL's invalidation", hb.Format("15:04:05.000"))
		}
	}
}

// rowTagsReader is the end to end check: a yoked reader (Redis store) keeps
// its cached row while another program changes another row of the table,
// and sees the new value once that program changes its row. Its watcher
// has its own slot and store.
func rowTagsReader(t *testing.T, url string) {
	redisAddr := testenv.Redis(t)
	pgExec(t, url, `CREATE TABLE kv (id int PRIMARY KEY, v text); INSERT INTO kv VALUES (1, 'one'), (2, 'two');
		CREATE TABLE pt (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
		CREATE TABLE pt_1 PARTITION OF pt FOR VALUES FROM (0) TO (100); INSERT INTO pt VALUES (1, 'one')`)
	ns := testenv.Name("rows")
	store := redisStoreNS(t, redisAddr, ns)
	start(t, changefeed.Config{Dialect: "postgres", Source: url, Store: store, RowTag: yoked.RowTag, SetTag: yoked.SetTag, Slot: "reader"})
	eventually(t, 20*time.Second, "first heartbeat", func() bool { return !heartbeat(t, store).IsZero() })

	db, err := yoked.Open("pgx", url, yoked.WithStoreURL("redis://"+redisAddr), yoked.WithNamespace(ns),
		yoked.WithChangeFeed(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := yoked.WaitCatalog(ctx, db); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	cache, _ := yoked.CacheOf(db)
	read := func() (string, bool) {
		t.Helper()
		hits := cache.Stats().Hits
		var v string
		if err := db.QueryRow("SELECT v FROM kv WHERE id = $1", 1).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v, cache.Stats().Hits > hits
	}
	outside := func(sql string) {
		t.Helper()
		if _, err := raw.Exec(sql); err != nil {
			t.Fatal(err)
		}
		after := time.Now()
		eventually(t, 10*time.Second, "heartbeat after the write", func() bool { return heartbeat(t, store).After(after) })
	}
	read()
	if v, hit := read(); !hit || v != "one" {
		t.Fatalf("second read: %q, hit %v", v, hit)
	}
	outside("UPDATE kv SET v = 'deux' WHERE id = 2")
	if v, hit := read(); !hit || v != "one" {
		t.Errorf("after another row changed: %q, hit %v; want a hit on row 1", v, hit)
	}
	outside("UPDATE kv SET v = 'uno' WHERE id = 1")
	if v, hit := read(); hit || v != "uno" {
		t.Errorf("after row 1 changed: %q, hit %v; want the new value from the database", v, hit)
	}

	// A reader of a partitioned table by key, a writer of its partition.
	readPT := func() (v string, hit bool) {
		t.Helper()
		for range 2 {
			hits := cache.Stats().Hits
			if err := db.QueryRow("SELECT v FROM pt WHERE id = $1", 1).Scan(&v); err != nil {
				t.Fatal(err)
			}
			if hit = cache.Stats().Hits > hits; hit {
				return v, hit
			}
		}
		return v, false
	}
	if v, hit := readPT(); !hit || v != "one" {
		t.Fatalf("partitioned table: %q, hit %v (%+v)", v, hit, cache.Stats())
	}
	outside("UPDATE pt_1 SET v = 'uno' WHERE id = 1")
	hits := cache.Stats().Hits
	var v string
	if err := db.QueryRow("SELECT v FROM pt WHERE id = $1", 1).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != "uno" || cache.Stats().Hits > hits {
		t.Errorf("partitioned table after its partition changed: %q (hit %v), want the new value", v, cache.Stats().Hits > hits)
	}

	// A commit is in the WAL, and in the stream, before other sessions see
	// it. A synchronous standby that never answers holds one there: the
	// writer waits after its commit record, its change invisible. Reads
	// meanwhile see the old row and may cache it; the feed must invalidate
	// the row only once the change is visible, or that entry outlives it.
	for _, q := range []string{"ALTER SYSTEM SET synchronous_commit = 'local'",
		"ALTER SYSTEM SET synchronous_standby_names = 'ghost'", "SELECT pg_reload_conf()"} {
		pgExec(t, url, q)
	}
	t.Cleanup(func() {
		for _, q := range []string{"ALTER SYSTEM RESET synchronous_commit", "ALTER SYSTEM RESET synchronous_standby_names",
			"SELECT pg_reload_conf()"} {
			pgExec(t, url, q)
		}
	})
	read()
	if v, hit := read(); !hit || v != "uno" {
		t.Fatalf("before the held commit: %q, hit %v", v, hit)
	}
	w, err := pgconn.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	held := make(chan error, 1)
	go func() {
		_, err := w.Exec(ctx, "SET synchronous_commit = on; UPDATE kv SET v = 'held' WHERE id = 1").ReadAll()
		held <- err
	}()
	eventually(t, 10*time.Second, "the held commit in the WAL", func() bool {
		return pgValue(t, url, "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'") == "1"
	})
	for range 20 { // reads while the change is committed but not visible
		if v, _ := read(); v != "uno" {
			t.Fatalf("read %q before the held commit was visible", v)
		}
		time.Sleep(20 * time.Millisecond)
	}
	pgExec(t, url, fmt.Sprintf("SELECT pg_cancel_backend(%d)", w.PID()))
	if err := <-held; err != nil {
		t.Fatalf("held commit: %v", err)
	}
	after := time.Now()
	eventually(t, 10*time.Second, "heartbeat after the held commit", func() bool { return heartbeat(t, store).After(after) })
	if v, hit := read(); v != "held" {
		t.Errorf("after the held commit became visible: %q (hit %v), want the new value", v, hit)
	}
}
