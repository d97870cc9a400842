package changefeed_test

import (
	"context"
	"database/sql"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/yokedcache/yoked/changefeed"
	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/internal/testenv"
	"github.com/yokedcache/yoked/tagstore/redisstore"
)

// staleChecker records writes (each key has one writer, so its values only
// grow) and reads, and finds reads older than maxLag.
type staleChecker struct {
	mu     sync.Mutex
	writes map[int][]write // by key, in value order
	reads  []read
}

type write struct {
	v        int64
	returned time.Time // after the commit returned to the writer
}

type read struct {
	k       int
	v       int64
	started time.Time
}

func (c *staleChecker) wrote(k int, v int64, at time.Time) {
	c.mu.Lock()
	c.writes[k] = append(c.writes[k], write{v, at})
	c.mu.Unlock()
}

func (c *staleChecker) read(k int, v int64, started time.Time) {
	c.mu.Lock()
	c.reads = append(c.reads, read{k, v, started})
	c.mu.Unlock()
}

// stale returns the reads that saw a value older than a write that had
// returned more than maxLag before the read started.
func (c *staleChecker) stale(maxLag time.Duration) []string {
	var out []string
	for _, r := range c.reads {
		ws := c.writes[r.k]
		sort.Slice(ws, func(i, j int) bool { return ws[i].v < ws[j].v })
		for _, w := range ws {
			if w.v > r.v && w.returned.Add(maxLag).Before(r.started) {
				out = append(out, fmt.Sprintf("key %d: read %d at %s, but %d returned at %s",
					r.k, r.v, r.started.Format("15:04:05.000"), w.v, w.returned.Format("15:04:05.000")))
				break
			}
		}
	}
	return out
}

// staleSetup is one database for the stale-read checker.
type staleSetup struct {
	dialect string // the feed's
	driver  string // base driver of the readers and raw writers
	dsn     string // for the readers and raw writers
	source  string // for the feed
	exec    func(sql string)
	read    string // SELECT v FROM kv WHERE k = <placeholder>
	// rawWrite increments key k's value and returns the new value.
	rawWrite func(db *sql.DB, k int) (int64, error)
	// process is a client process that increments k and prints the value.
	process func(k int) *exec.Cmd
}

// The proof of the issue: writers that bypass yoked (raw pgx, psql
// processes), readers through yoked with the Redis store and L1 requiring
// the feed within maxLag, and the watcher crashed, restarted and failed over
// during the run. No read may be staler than maxLag.
func TestPostgresStaleReads(t *testing.T) {
	if testing.Short() {
		t.Skip("stale-read checker: several seconds")
	}
	runStaleCheck(t, pgStaleSetup(t))
}

// pgStaleSetup starts a private PostgreSQL for the checker.
func pgStaleSetup(t testing.TB) staleSetup {
	psql, err := exec.LookPath("psql")
	if err != nil {
		missing(t, "no psql client: apt-get install -y postgresql-client")
	}
	pg := testenv.StartPostgres(t)
	return staleSetup{
		dialect: "postgres", driver: "pgx", dsn: pg.URL(), source: pg.URL(),
		exec: func(q string) { pgExec(t, pg.URL(), q) },
		read: "SELECT v FROM kv WHERE k = $1",
		rawWrite: func(db *sql.DB, k int) (v int64, err error) {
			err = db.QueryRow("UPDATE kv SET v = v + 1 WHERE k = $1 RETURNING v", k).Scan(&v)
			return v, err
		},
		process: func(k int) *exec.Cmd {
			return exec.Command(psql, "-X", "-Atq", "-d", pg.URL(), "-c", fmt.Sprintf("UPDATE kv SET v = v + 1 WHERE k = %d RETURNING v", k))
		},
	}
}

// The same proof on MariaDB: raw go-sql-driver writers and mariadb client
// processes.
func TestMySQLStaleReads(t *testing.T) {
	if testing.Short() {
		t.Skip("stale-read checker: several seconds")
	}
	client, err := exec.LookPath("mariadb")
	if err != nil {
		if client, err = exec.LookPath("mysql"); err != nil {
			missing(t, "no mariadb client: apt-get install -y mariadb-client")
		}
	}
	// binlog_row_metadata=FULL: with row tags on, the feed invalidates rows.
	my := testenv.StartMariaDB(t, "--binlog-row-metadata=FULL")
	admin := openMariaDB(t, my.DSN("mysql"))
	myExec(t, admin, "CREATE DATABASE app")
	dsn := my.DSN("app")
	runStaleCheck(t, staleSetup{
		dialect: "mysql", driver: "mysql", dsn: dsn, source: dsn,
		exec: func(q string) { myExec(t, admin, "USE app", q) },
		read: "SELECT v FROM kv WHERE k = ?",
		rawWrite: func(db *sql.DB, k int) (v int64, err error) {
			// One writer per key: the value read back on the same
			// connection after the autocommit UPDATE returned is ours.
			c, err := db.Conn(context.Background())
			if err != nil {
				return 0, err
			}
			defer c.Close()
			if _, err := c.ExecContext(context.Background(), "UPDATE kv SET v = v + 1 WHERE k = ?", k); err != nil {
				return 0, err
			}
			err = c.QueryRowContext(context.Background(), "SELECT v FROM kv WHERE k = ?", k).Scan(&v)
			return v, err
		},
		process: func(k int) *exec.Cmd {
			return exec.Command(client, "-h", "127.0.0.1", "-P", my.Port(), "-uroot", "-N", "-B", "app", "-e",
				fmt.Sprintf("UPDATE kv SET v = v + 1 WHERE k = %d; SELECT v FROM kv WHERE k = %d", k, k))
		},
	})
}

// The checker's load.
const (
	staleKeys    = 8
	staleReaders = 4
)

// staleRun is the checker's table, clients and store.
type staleRun struct {
	env     staleSetup
	ns      string
	store   *redisstore.Store // the watchers' (with an empty L1)
	db, raw *sql.DB           // readers through yoked, writers bypassing it
	chk     *staleChecker
}

// openStale creates the table kv and opens the clients; readers require the
// feed within maxLag.
func openStale(t testing.TB, env staleSetup, maxLag time.Duration) *staleRun {
	redisAddr := testenv.Redis(t)
	env.exec("CREATE TABLE kv (k int PRIMARY KEY, v bigint NOT NULL)")
	var ins []string
	for k := range staleKeys {
		ins = append(ins, fmt.Sprintf("(%d, 0)", k))
	}
	env.exec("INSERT INTO kv VALUES " + strings.Join(ins, ","))

	r := &staleRun{env: env, ns: testenv.Name("stale"), chk: &staleChecker{writes: map[int][]write{}}}
	r.store = redisStoreNS(t, redisAddr, r.ns)
	var err error
	r.db, err = yoked.Open(env.driver, env.dsn, yoked.WithStoreURL("redis://"+redisAddr+"?l1=true"),
		yoked.WithNamespace(r.ns), yoked.WithChangeFeed(maxLag))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.db.Close() })
	// Reads bypass the cache until the catalog is read; on a loaded
	// machine that took most of the run, which then proved nothing.
	wctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := yoked.WaitCatalog(wctx, r.db); err != nil {
		t.Fatalf("catalog: %v", err)
	}
	r.raw, err = sql.Open(env.driver, env.dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.raw.Close() })
	for k := range staleKeys {
		r.chk.wrote(k, 0, time.Now())
	}
	return r
}

// load runs the checker's writers and readers until ctx ends: keys 0..3
// written by raw connections, 4..5 by client processes, 6..7 untouched,
// every key read through yoked.
func (r *staleRun) load(ctx context.Context, t testing.TB) *sync.WaitGroup {
	var wg sync.WaitGroup
	for k := range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				v, err := r.env.rawWrite(r.raw, k)
				if err != nil {
					t.Error(err)
					return
				}
				r.chk.wrote(k, v, time.Now())
				time.Sleep(time.Duration(5+k*5) * time.Millisecond)
			}
		})
	}
	for k := 4; k < 6; k++ {
		wg.Go(func() {
			for ctx.Err() == nil {
				out, err := r.env.process(k).Output()
				if err != nil {
					t.Error(err)
					return
				}
				v, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
				if err != nil {
					t.Errorf("client said %q", out)
					return
				}
				r.chk.wrote(k, v, time.Now())
			}
		})
	}
	for i := range staleReaders {
		wg.Go(func() {
			for n := 0; ctx.Err() == nil; n++ {
				k := (n + i) % staleKeys
				started := time.Now()
				var v int64
				if err := r.db.QueryRow(r.env.read, k).Scan(&v); err != nil {
					t.Error(err)
					return
				}
				r.chk.read(k, v, started)
				time.Sleep(200 * time.Microsecond) // leave the feed some CPU on a small machine
			}
		})
	}
	return &wg
}

func runStaleCheck(t *testing.T, env staleSetup) {
	const (
		maxLag = 500 * time.Millisecond
		runFor = 7 * time.Second
	)
	run := openStale(t, env, maxLag)
	store, db, chk := run.store, run.db, run.chk
	const ttl = time.Second
	cfg := func(holder string, s changefeed.Store) changefeed.Config {
		// Row tags on, as yokedcache watch runs by default: the readers
		// read by key and the writers write by key.
		return changefeed.Config{Dialect: env.dialect, Source: env.source, Store: s, LeaseTTL: ttl, Holder: holder,
			RowTag: yoked.RowTag, SetTag: yoked.SetTag}
	}
	a := &crashable{Store: store}
	ra := start(t, cfg("a", a))
	eventually(t, 20*time.Second, "feed running", func() bool { return !heartbeat(t, store).IsZero() })
	rb := start(t, cfg("b", store))

	ctx, cancel := context.WithTimeout(context.Background(), runFor)
	defer cancel()
	wg := run.load(ctx, t)
	// The watchers: a crashes at 1.5 s (b takes over when its lease
	// expires), a restarts at 3.5 s as the standby, b stops cleanly at 4.5 s
	// (a takes over at once).
	sleep := func(d time.Duration) { time.Sleep(d) }
	sleep(1500 * time.Millisecond)
	a.dead.Store(true)
	ra.cancel()
	sleep(2 * time.Second)
	ra2 := start(t, cfg("a2", store))
	sleep(time.Second)
	rb.stop(t)
	wg.Wait()

	stale := chk.stale(maxLag)
	cache, _ := yoked.CacheOf(db)
	st := cache.Stats()
	for _, s := range stale[:min(len(stale), 10)] {
		t.Error(s)
	}
	if len(stale) > 0 {
		t.Fatalf("%d of %d reads staler than %v", len(stale), len(chk.reads), maxLag)
	}
	var writes int
	for _, ws := range chk.writes {
		writes += len(ws) - 1
	}
	for name, r := range map[string]*running{"a": ra, "b": rb, "a2": ra2} {
		s := r.w.Stats()
		t.Logf("watcher %s: %d transactions, invalidation lag p50 %v p99 %v max %v (arrival %v/%v/%v, queue %v/%v/%v, store %v/%v/%v), heartbeat %v ago, %d errors (%s)", name, s.Transactions, s.LagP50, s.LagP99, s.LagMax,
			s.ArrivalP50, s.ArrivalP99, s.ArrivalMax, s.QueueP50, s.QueueP99, s.QueueMax, s.StoreP50, s.StoreP99, s.StoreMax, time.Since(s.Heartbeat), s.Errors, s.LastError)
	}
	if st.Hits == 0 {
		t.Fatalf("no read was served from the cache: the check proves nothing (%+v)", st)
	}
	if !ra2.w.Stats().Active {
		t.Error("the restarted watcher did not take over from the stopped one")
	}
	// Takeovers resume from the position the other watcher acknowledged.
	for name, r := range map[string]*running{"b": rb, "a2": ra2} {
		if n := r.w.Stats().Resets; n != 0 {
			t.Errorf("watcher %s reset the namespace %d times on takeover", name, n)
		}
	}
	if env.dialect == "mysql" {
		if pos := savedPosition(t, store); !strings.Contains(pos, "gtid=") {
			t.Errorf("position saved through the failovers has no GTID set: %q", pos)
		}
	}
	t.Logf("%d reads (%d hits, %d bypassed for feed lag), %d writes, 0 staler than %v", len(chk.reads), st.Hits, st.Skips["feed_lag"], writes, maxLag)
}

// missing skips t, or fails it under CI, where nothing may pass untested.
func missing(t testing.TB, msg string) {
	t.Helper()
	if testenv.InCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}
