package changefeed_test

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yokedcache/yoked/changefeed"
	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/internal/testenv"
)

// rowsConfig is a feed that invalidates rows, as yokedcache watch does.
func rowsConfig(source string, store changefeed.Store) changefeed.Config {
	return changefeed.Config{Dialect: "mysql", Source: source, Store: store, RowTag: yoked.RowTag, SetTag: yoked.SetTag}
}

// logBuffer collects a watcher's log.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// With binlog_row_metadata=FULL and RowTag, a change invalidates the row
// tags of the keys it changed and the table's set tag, never the table's
// tag, where that is provably enough; everywhere else the table's tag. The
// tags are spelled out: they are what readers carry (driver/rowtags.go).
func TestMySQLRowTags(t *testing.T) {
	my := testenv.StartMariaDB(t, "--binlog-row-metadata=FULL")
	db := openMariaDB(t, my.DSN("mysql"))
	myExec(t, db, "CREATE DATABASE app", "CREATE DATABASE app2", "USE app",
		"CREATE TABLE app.t (id int PRIMARY KEY, v int)",
		"CREATE TABLE app.u32 (id int unsigned PRIMARY KEY, v int)",
		"CREATE TABLE app.u64 (id bigint unsigned PRIMARY KEY, v int)",
		"CREATE TABLE app.uw (t tinyint unsigned, s smallint unsigned, m mediumint unsigned, v int, PRIMARY KEY (t, s, m))",
		"CREATE TABLE app.sw (t tinyint, s smallint, m mediumint, b bigint, v int, PRIMARY KEY (t, s, m, b))",
		"CREATE TABLE app.comp (a int, b int, v int, PRIMARY KEY (b, a))",
		"CREATE TABLE app.ci (k varchar(20) COLLATE utf8mb4_general_ci PRIMARY KEY, v int)",
		"CREATE TABLE app.bin (k varbinary(20) PRIMARY KEY, v int)",
		"CREATE TABLE app.self (id int PRIMARY KEY, p int, FOREIGN KEY (p) REFERENCES app.self (id) ON DELETE CASCADE)",
		"CREATE TABLE app.parent (id int PRIMARY KEY)",
		"CREATE TABLE app.child (id int PRIMARY KEY, p int, FOREIGN KEY (p) REFERENCES app.parent (id) ON DELETE CASCADE)",
		"CREATE TABLE app.nopk (id int, v int)",
		"CREATE TABLE app.pk (a int PRIMARY KEY, b int NOT NULL UNIQUE, v int)",
		"CREATE TABLE app2.t (id int PRIMARY KEY, v int)",
		"INSERT INTO app.t VALUES (1, 0), (2, 0), (3, 0)",
		"INSERT INTO app.self VALUES (1, NULL), (2, 1)",
		"INSERT INTO app.parent VALUES (1), (2)", "INSERT INTO app.child VALUES (1, 1), (2, 2)",
		"INSERT INTO app.pk VALUES (1, 10, 0), (2, 20, 0)")
	store := newMemory(t)
	cfg := rowsConfig(my.DSN("app"), store)
	r := start(t, cfg)
	eventually(t, 20*time.Second, "first heartbeat", func() bool { return !heartbeat(t, store).IsZero() })

	top := t // watchers restarted in subtests outlive them
	tt, st := tableTag("app", "t"), "set:app.t"
	row := func(table, key string) string { return "row:app." + table + "(" + key + ")" }
	for _, tc := range []struct {
		name        string
		sql         []string // on one connection
		gone, stays []string
	}{
		{"insert", []string{"INSERT INTO t VALUES (4, 0)"},
			[]string{row("t", "id=4"), st}, []string{tt, row("t", "id=1")}},
		{"update by key", []string{"UPDATE t SET v = 1 WHERE id = 1"},
			[]string{row("t", "id=1"), st}, []string{tt, row("t", "id=2")}},
		{"key-changing update", []string{"UPDATE t SET id = 5 WHERE id = 2"},
			[]string{row("t", "id=2"), row("t", "id=5"), st}, []string{tt, row("t", "id=1")}},
		{"delete", []string{"DELETE FROM t WHERE id = 3"},
			[]string{row("t", "id=3"), st}, []string{tt, row("t", "id=1")}},
		{"multi-row transaction", []string{"BEGIN", "UPDATE t SET v = v + 1", "INSERT INTO t VALUES (6, 0)", "COMMIT"},
			[]string{row("t", "id=1"), row("t", "id=4"), row("t", "id=5"), row("t", "id=6"), st}, []string{tt, row("t", "id=2")}},
		{"past the bound", []string{"INSERT INTO t SELECT seq + 100, 0 FROM seq_1_to_1001"},
			[]string{tt}, nil},
		{"int unsigned above 2^31", []string{"INSERT INTO u32 VALUES (2147483648, 0), (4294967295, 0)"},
			[]string{row("u32", "id=2147483648"), row("u32", "id=4294967295"), "set:app.u32"},
			[]string{tableTag("app", "u32"), row("u32", "id=-2147483648"), row("u32", "id=-1")}},
		{"bigint unsigned above 2^63", []string{"INSERT INTO u64 VALUES (9223372036854775808, 0), (18446744073709551615, 0)"},
			[]string{row("u64", "id=9223372036854775808"), row("u64", "id=18446744073709551615"), "set:app.u64"},
			[]string{tableTag("app", "u64"), row("u64", "id=-9223372036854775808"), row("u64", "id=-1")}},
		{"small unsigned widths", []string{"INSERT INTO uw VALUES (255, 65535, 16777215, 0)"},
			[]string{row("uw", "t=255,s=65535,m=16777215"), "set:app.uw"}, []string{tableTag("app", "uw"), row("uw", "t=-1,s=-1,m=-1")}},
		{"signed widths", []string{"INSERT INTO sw VALUES (-128, -32768, -8388608, -9223372036854775808, 0)"},
			[]string{row("sw", "t=-128,s=-32768,m=-8388608,b=-9223372036854775808"), "set:app.sw"}, []string{tableTag("app", "sw")}},
		{"composite key in key order", []string{"INSERT INTO comp VALUES (1, 2, 0)"},
			[]string{row("comp", "b=2,a=1"), "set:app.comp"}, []string{tableTag("app", "comp"), row("comp", "a=1,b=2")}},
		{"varchar key under a _ci collation", []string{"INSERT INTO ci VALUES ('a', 0)"},
			[]string{tableTag("app", "ci")}, nil},
		{"varbinary key", []string{"INSERT INTO bin VALUES ('a', 0)"},
			[]string{tableTag("app", "bin")}, nil},
		{"self-referencing cascade", []string{"DELETE FROM self WHERE id = 1"},
			[]string{tableTag("app", "self")}, nil},
		{"cascade into a child", []string{"DELETE FROM parent WHERE id = 1"},
			[]string{row("parent", "id=1"), "set:app.parent", tableTag("app", "child")},
			[]string{tableTag("app", "parent"), row("parent", "id=2")}},
		{"no primary key", []string{"INSERT INTO nopk VALUES (1, 0)"},
			[]string{tableTag("app", "nopk")}, nil},
		{"another database", []string{"INSERT INTO app2.t VALUES (1, 0)"},
			[]string{tableTag("app2", "t")}, []string{tableTag("app", "t")}},
		{"minimal row image: update of another column", []string{"SET SESSION binlog_row_image = MINIMAL", "UPDATE t SET v = 9 WHERE id = 1"},
			[]string{tt}, nil},
		{"minimal row image: key-changing update", []string{"SET SESSION binlog_row_image = MINIMAL", "UPDATE t SET id = 7 WHERE id = 6"},
			[]string{row("t", "id=6"), row("t", "id=7"), st}, []string{tt, row("t", "id=1")}},
		{"minimal row image: delete", []string{"SET SESSION binlog_row_image = MINIMAL", "DELETE FROM t WHERE id = 7"},
			[]string{row("t", "id=7"), st}, []string{tt, row("t", "id=1")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkWrite(t, store, tc.gone, tc.stays, func() { myConnExec(t, db, append([]string{"USE app"}, tc.sql...)...) })
		})
	}

	// The catalog is read again after DDL: a key changed by ALTER TABLE is
	// the key of the rows written after it.
	t.Run("primary key changed by DDL", func(t *testing.T) {
		myExec(t, db, "ALTER TABLE app.pk DROP PRIMARY KEY, ADD PRIMARY KEY (b)")
		after := time.Now()
		eventually(t, 5*time.Second, "heartbeat after the DDL", func() bool { return heartbeat(t, store).After(after) })
		checkWrite(t, store, []string{row("pk", "b=20"), "set:app.pk"}, []string{tableTag("app", "pk"), row("pk", "a=2")}, func() {
			myExec(t, db, "UPDATE app.pk SET v = 1 WHERE b = 20")
		})
	})

	// Events written before the watcher read its catalog (here: while no
	// watcher ran) are table-level: the catalog may be newer than them.
	t.Run("events older than the catalog", func(t *testing.T) {
		checkWrite(t, store, []string{tt}, nil, func() {
			r.stop(t)
			myExec(t, db, "UPDATE app.t SET v = v + 1 WHERE id = 1")
			r = start(top, cfg)
		})
		checkWrite(t, store, []string{row("t", "id=1"), st}, []string{tt}, func() {
			myExec(t, db, "UPDATE app.t SET v = v + 1 WHERE id = 1")
		})
	})

	// Without the key in the table map every change takes its table; the
	// watcher says why once, at the start.
	t.Run("binlog_row_metadata=MINIMAL", func(t *testing.T) {
		myExec(t, db, "SET GLOBAL binlog_row_metadata = MINIMAL")
		r.stop(t)
		var log logBuffer
		c := cfg
		c.Logger = slog.New(slog.NewTextHandler(&log, nil))
		r = start(top, c)
		after := time.Now()
		eventually(t, 20*time.Second, "heartbeat", func() bool { return heartbeat(t, store).After(after) })
		if !strings.Contains(log.String(), "binlog_row_metadata is not FULL") {
			t.Errorf("no warning about binlog_row_metadata in the log:\n%s", log.String())
		}
		checkWrite(t, store, []string{tt}, nil, func() { myExec(t, db, "UPDATE app.t SET v = v + 1 WHERE id = 1") })
		checkWrite(t, store, []string{tableTag("app", "u64")}, nil, func() { myExec(t, db, "INSERT INTO app.u64 VALUES (1, 0)") })
		// Each table map says what it carries: back to FULL, back to rows.
		myExec(t, db, "SET GLOBAL binlog_row_metadata = FULL")
		checkWrite(t, store, []string{row("t", "id=1"), st}, []string{tt}, func() {
			myExec(t, db, "UPDATE app.t SET v = v + 1 WHERE id = 1")
		})
		if n := strings.Count(log.String(), "binlog_row_metadata is not FULL"); n != 1 {
			t.Errorf("warned %d times, want once", n)
		}
	})
}

// myConnExec runs stmts on one connection (session settings, BEGIN), which
// it then discards: its session settings stay with it.
func myConnExec(t testing.TB, db *sql.DB, stmts ...string) {
	t.Helper()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		conn.Close()
	}()
	for _, s := range stmts {
		if _, err := conn.ExecContext(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// End to end: a reader through yoked with the Redis store keeps its cached
// read of row 1 while another program writes row 2, and sees that
// program's write of row 1 once a heartbeat follows it.
func TestMySQLRowTagsReader(t *testing.T) {
	my := testenv.StartMariaDB(t, "--binlog-row-metadata=FULL")
	admin := openMariaDB(t, my.DSN("mysql"))
	myExec(t, admin, "CREATE DATABASE app", "CREATE TABLE app.kv (k int PRIMARY KEY, v int NOT NULL)",
		"INSERT INTO app.kv VALUES (1, 10), (2, 20)")
	redisAddr := testenv.Redis(t)
	ns := testenv.Name("rows")
	store := redisStoreNS(t, redisAddr, ns)
	start(t, rowsConfig(my.DSN("app"), store))
	eventually(t, 20*time.Second, "first heartbeat", func() bool { return !heartbeat(t, store).IsZero() })

	db, err := yoked.Open("mysql", my.DSN("app"), yoked.WithStoreURL("redis://"+redisAddr+"?l1=true"), yoked.WithNamespace(ns))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := yoked.WaitCatalog(ctx, db); err != nil {
		t.Fatal(err)
	}
	raw := openMariaDB(t, my.DSN("app"))
	cache, err := yoked.CacheOf(db)
	if err != nil {
		t.Fatal(err)
	}
	readAs := func(t testing.TB, k int) (v int, hit bool) {
		t.Helper()
		before := cache.Stats().Hits
		if err := db.QueryRow("SELECT v FROM kv WHERE k = ?", k).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v, cache.Stats().Hits > before
	}
	read := func(k int) (v int, hit bool) { t.Helper(); return readAs(t, k) }
	// write updates through the raw driver and waits for a heartbeat that
	// vouches for it.
	write := func(q string) {
		t.Helper()
		myExec(t, raw, q)
		after := time.Now()
		eventually(t, 5*time.Second, "heartbeat after "+q, func() bool { return heartbeat(t, store).After(after) })
	}
	sum := func() (v int, hit bool) { // a scan: it carries the set tag
		t.Helper()
		before := cache.Stats().Hits
		if err := db.QueryRow("SELECT SUM(v) FROM kv").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v, cache.Stats().Hits > before
	}
	read(1)
	read(2)
	sum()
	if v, hit := read(1); !hit || v != 10 {
		t.Fatalf("second read of row 1: %d, hit %v; want a hit of 10", v, hit)
	}
	write("UPDATE kv SET v = 21 WHERE k = 2")
	if v, hit := read(1); !hit || v != 10 {
		t.Fatalf("row 1 after a write of row 2: %d, hit %v; want a hit of 10 still", v, hit)
	}
	if v, _ := read(2); v != 21 {
		t.Fatalf("row 2 after its write: %d, want 21", v)
	}
	if v, _ := sum(); v != 31 {
		t.Fatalf("sum after the write of row 2: %d, want 31", v)
	}
	if _, hit := sum(); !hit {
		t.Fatal("the sum read again is not a hit: the scan is not cached, so the check above proves nothing")
	}
	write("UPDATE kv SET v = 11 WHERE k = 1")
	if v, _ := read(1); v != 11 {
		t.Fatalf("row 1 after its write: %d, want 11", v)
	}
	if v, hit := read(1); !hit || v != 11 {
		t.Fatalf("row 1 read again: %d, hit %v; want a hit of 11", v, hit)
	}

	// Held shorter and longer than the probe's lock wait (1 s), in a table
	// with a primary key and in one without (proved through INNODB_TRX).
	myExec(t, admin, "CREATE TABLE app.nokey (v int NOT NULL)", "INSERT INTO app.nokey VALUES (30)")
	for _, tc := range []struct {
		name, query, update string
		old, new            int
		hold                time.Duration
	}{
		{"keyed", "SELECT v FROM kv WHERE k = 1", "UPDATE kv SET v = 12 WHERE k = 1", 11, 12, 0},
		{"keyed held long", "SELECT v FROM kv WHERE k = 1", "UPDATE kv SET v = 13 WHERE k = 1", 12, 13, 1500 * time.Millisecond},
		{"no key", "SELECT v FROM nokey", "UPDATE nokey SET v = 31", 30, 31, 0},
	} {
		t.Run("held commit/"+tc.name, func(t *testing.T) {
			read := func() (v int, hit bool) {
				t.Helper()
				before := cache.Stats().Hits
				if err := db.QueryRow(tc.query).Scan(&v); err != nil {
					t.Fatal(err)
				}
				return v, cache.Stats().Hits > before
			}
			heldCommit(t, admin, raw, store, read, tc.update, tc.old, tc.new, tc.hold)
		})
	}
}

// heldCommit: a commit is in the binlog, and sent to replicas, before other
// sessions see it. Semi-synchronous replication waiting AFTER_SYNC for
// a replica that never answers (the watcher does not acknowledge) holds
// one there: the writer waits between the binlog and the InnoDB commit,
// its change invisible. Reads meanwhile see the old row and cache it;
// the feed must invalidate the row again once the change is visible, or
// that entry outlives it.
func heldCommit(t *testing.T, admin, raw *sql.DB, store changefeed.Coordinator, read func() (int, bool), update string, old, new int, hold time.Duration) {
	eventually(t, 10*time.Second, "the old value cached", func() bool {
		v, hit := read()
		if v != old {
			t.Fatalf("before the held commit: %d, want %d", v, old)
		}
		return hit
	})

	myExec(t, admin, "SET GLOBAL rpl_semi_sync_master_wait_point = AFTER_SYNC",
		"SET GLOBAL rpl_semi_sync_master_wait_no_slave = ON", "SET GLOBAL rpl_semi_sync_master_timeout = 120000",
		"SET GLOBAL rpl_semi_sync_master_enabled = ON")
	t.Cleanup(func() { myExec(t, admin, "SET GLOBAL rpl_semi_sync_master_enabled = OFF") })
	held := make(chan error, 1)
	go func() {
		_, err := raw.Exec(update)
		held <- err
	}()
	eventually(t, 10*time.Second, "the held commit in the binlog", func() bool {
		var n int
		err := admin.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE STATE LIKE '%semi-sync%' AND INFO = ?", update).Scan(&n)
		return err == nil && n == 1
	})
	// The feed reads the held commit and invalidates row 1: a read misses,
	// sees the old row (the change is not visible) and caches it.
	eventually(t, 10*time.Second, "the held commit invalidated by the feed", func() bool {
		v, hit := read()
		if v != old {
			t.Fatalf("read %d before the held commit was visible", v)
		}
		return !hit
	})
	for range 10 { // more reads while the change is committed but not visible
		if v, _ := read(); v != old {
			t.Fatalf("read %d before the held commit was visible", v)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(hold)
	// Turning semi-sync off releases the waiting commit.
	myExec(t, admin, "SET GLOBAL rpl_semi_sync_master_enabled = OFF")
	if err := <-held; err != nil {
		t.Fatalf("held commit: %v", err)
	}
	after := time.Now()
	eventually(t, 10*time.Second, "heartbeat after the held commit", func() bool { return heartbeat(t, store).After(after) })
	if v, hit := read(); v != new {
		t.Errorf("after the held commit became visible: %d (hit %v), want %d", v, hit, new)
	}
}
