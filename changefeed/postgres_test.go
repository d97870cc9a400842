package changefeed_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/yokedcache/yoked/changefeed"
	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/internal/testenv"
)

// pgExec runs sql on url (simple protocol, several statements allowed).
func pgExec(t testing.TB, url, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgconn.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, sql).ReadAll(); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func pgValue(t testing.TB, url, sql string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgconn.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	res, err := c.Exec(ctx, sql).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	if len(res) == 0 || len(res[0].Rows) == 0 {
		return ""
	}
	return string(res[0].Rows[0][0])
}

// Every kind of write from outside yoked invalidates the tables it wrote;
// DDL invalidates everything and bumps the schema epoch; a heartbeat is
// written at least every 100 ms.
func TestPostgresInvalidates(t *testing.T) {
	pg := testenv.StartPostgres(t)
	pgExec(t, pg.URL(), `CREATE SCHEMA app; CREATE TABLE app.users (id int PRIMARY KEY, name text);
		CREATE TABLE app.orders (id int PRIMARY KEY, user_id int); CREATE TABLE other (id int)`)
	store := newMemory(t)
	r := start(t, changefeed.Config{Dialect: "postgres", Source: pg.URL(), Store: store})
	eventually(t, 10*time.Second, "first heartbeat", func() bool { return !heartbeat(t, store).IsZero() })

	users, orders, other := tableTag("app", "users"), tableTag("app", "orders"), tableTag("public", "other")
	for _, tc := range []struct {
		name  string
		sql   string
		gone  []string // tags whose entries must be invalidated
		stays []string // tags whose entries must survive
	}{
		{"insert", "INSERT INTO app.users VALUES (1, 'a')", []string{users}, []string{orders, other}},
		{"update", "UPDATE app.users SET name = 'b'", []string{users}, []string{orders}},
		{"delete", "DELETE FROM app.orders", nil, []string{users}}, // deletes nothing: no event
		{"transaction", "BEGIN; INSERT INTO app.orders VALUES (1, 1); INSERT INTO other VALUES (1); COMMIT", []string{orders, other}, []string{users}},
		{"truncate", "TRUNCATE app.users", []string{users}, []string{orders}},
		{"rolled back", "BEGIN; INSERT INTO app.orders VALUES (2, 1); ROLLBACK", nil, []string{orders, users}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkWrite(t, store, tc.gone, tc.stays, func() { pgExec(t, pg.URL(), tc.sql) })
		})
	}

	t.Run("ddl", func(t *testing.T) {
		k := cached(t, store, orders)
		epochs := []string{changefeed.SchemaTag, yoked.SchemaTag("postgres:postgres")}
		before := versions(t, store, epochs)
		pgExec(t, pg.URL(), "CREATE INDEX ON app.users (name)")
		eventually(t, 5*time.Second, "DDL invalidates everything", func() bool { return !present(t, store, k, orders) })
		after := versions(t, store, epochs)
		for i, tag := range epochs {
			if before[i] == after[i] {
				t.Errorf("schema epoch %s not bumped", tag)
			}
		}
	})

	t.Run("heartbeat period", func(t *testing.T) {
		var worst time.Duration
		prev := heartbeat(t, store)
		end := time.Now().Add(time.Second)
		for time.Now().Before(end) {
			time.Sleep(5 * time.Millisecond)
			hb := heartbeat(t, store)
			if hb != prev {
				prev = hb
			}
			worst = max(worst, time.Since(prev))
		}
		// Written every 50 ms; the bound readers rely on is 100 ms. Allow
		// for a loaded machine without letting a stalled feed pass.
		if worst > 500*time.Millisecond {
			t.Errorf("heartbeat was %v old at worst", worst)
		}
		t.Logf("oldest heartbeat seen: %v", worst)
	})
	st := r.w.Stats()
	if !st.Active || st.Transactions == 0 || st.Position == "" || st.Slot != "yoked" {
		t.Errorf("stats: %+v", st)
	}
	t.Logf("stats: %+v", st)
}

// A stopped watcher resumes from its slot: writes made while it was down are
// invalidated when it comes back, without invalidating the whole namespace.
// A slot dropped under it (its WAL gone) is re-created and the whole
// namespace invalidated: changes between drop and re-creation are lost.
func TestPostgresResumeAndSlotDropped(t *testing.T) {
	pg := testenv.StartPostgres(t)
	pgExec(t, pg.URL(), `CREATE TABLE t (id int); CREATE TABLE u (id int)`)
	store := newMemory(t)
	cfg := changefeed.Config{Dialect: "postgres", Source: pg.URL(), Store: store, Slot: "resume"}
	r := start(t, cfg)
	eventually(t, 10*time.Second, "first heartbeat", func() bool { return !heartbeat(t, store).IsZero() })
	r.stop(t)

	tt, tu := tableTag("public", "t"), tableTag("public", "u")
	kt, ku := cached(t, store, tt), cached(t, store, tu)
	pgExec(t, pg.URL(), "INSERT INTO t VALUES (1)") // while no watcher runs
	r = start(t, cfg)
	eventually(t, 10*time.Second, "write made while down invalidated", func() bool { return !present(t, store, kt, tt) })
	after := time.Now()
	eventually(t, 5*time.Second, "heartbeat", func() bool { return heartbeat(t, store).After(after) })
	if !present(t, store, ku, tu) {
		t.Fatal("resuming from the slot invalidated a table nobody wrote")
	}
	if st := r.w.Stats(); st.Resets != 0 {
		t.Fatalf("resume reset the namespace: %+v", st)
	}

	// Drop the slot under the running watcher.
	kt = cached(t, store, tt)
	pgExec(t, pg.URL(), `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'resume'`)
	eventually(t, 10*time.Second, "slot dropped", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := pgconn.Connect(ctx, pg.URL())
		if err != nil {
			return false
		}
		defer c.Close(ctx)
		_, err = c.Exec(ctx, "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'resume' AND active_pid IS NOT NULL; SELECT pg_drop_replication_slot('resume')").ReadAll()
		return err == nil
	})
	eventually(t, 10*time.Second, "namespace invalidated after the slot was lost", func() bool {
		return !present(t, store, ku, tu) && r.w.Stats().Resets == 1
	})
	// And it streams again from the new slot.
	ku = cached(t, store, tu)
	pgExec(t, pg.URL(), "INSERT INTO u VALUES (1)")
	eventually(t, 10*time.Second, "write after re-creation invalidated", func() bool { return !present(t, store, ku, tu) })
	if pgValue(t, pg.URL(), "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'resume'") != "1" {
		t.Fatal("slot not re-created")
	}
}

// While the store is down, nothing is acknowledged to the slot; when it
// comes back the feed catches up.
func TestPostgresStoreDown(t *testing.T) {
	pg := testenv.StartPostgres(t)
	rs := testenv.StartRedis(t)
	pgExec(t, pg.URL(), `CREATE TABLE t (id int)`)
	store := redisStore(t, rs.Addr())
	r := start(t, changefeed.Config{Dialect: "postgres", Source: pg.URL(), Store: store, LeaseTTL: 500 * time.Millisecond})
	eventually(t, 10*time.Second, "first heartbeat", func() bool { return !heartbeat(t, store).IsZero() })
	confirmed := func() string {
		return pgValue(t, pg.URL(), "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'yoked'")
	}

	rs.Stop()
	time.Sleep(200 * time.Millisecond) // heartbeats in flight land or fail
	before := confirmed()
	errs := r.w.Stats().Errors
	txs := r.w.Stats().Transactions
	pgExec(t, pg.URL(), "INSERT INTO t VALUES (1)")
	writeLSN := pgValue(t, pg.URL(), "SELECT pg_current_wal_lsn()")
	time.Sleep(time.Second)
	// Heartbeat transactions committed before the INSERT carry nothing to
	// invalidate and may be acknowledged without the store; the INSERT, and
	// anything after it, must not be.
	if got := confirmed(); lsnAtLeast(t, pg.URL(), got, writeLSN) {
		t.Fatalf("slot acknowledged %s (was %s) past the INSERT (WAL at %s) while the store was down", got, before, writeLSN)
	}
	eventually(t, 10*time.Second, "store errors counted", func() bool { return r.w.Stats().Errors > errs })
	rs.Start()
	eventually(t, 15*time.Second, "caught up after the store came back", func() bool {
		return r.w.Stats().Transactions > txs && lsnAtLeast(t, pg.URL(), confirmed(), writeLSN)
	})
	after := time.Now()
	eventually(t, 10*time.Second, "heartbeat after the store came back", func() bool { return heartbeat(t, store).After(after) })
}

func lsnAtLeast(t testing.TB, url, a, b string) bool {
	return pgValue(t, url, "SELECT '"+a+"'::pg_lsn >= '"+b+"'::pg_lsn") == "t"
}

// crashable is a store that a test can cut off from one watcher, as if its
// process died: every call fails, and the lease is not released.
type crashable struct {
	changefeed.Store
	dead atomic.Bool
}

var errCrashed = errors.New("crashed")

func (c *crashable) InvalidateTags(ctx context.Context, tags ...string) error {
	if c.dead.Load() {
		return errCrashed
	}
	return c.Store.InvalidateTags(ctx, tags...)
}
func (c *crashable) InvalidateAll(ctx context.Context) error {
	if c.dead.Load() {
		return errCrashed
	}
	return c.Store.InvalidateAll(ctx)
}
func (c *crashable) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if c.dead.Load() {
		return false, errCrashed
	}
	return c.Store.AcquireLease(ctx, name, holder, ttl)
}
func (c *crashable) ReleaseLease(ctx context.Context, name, holder string) error {
	if c.dead.Load() {
		return errCrashed
	}
	return c.Store.ReleaseLease(ctx, name, holder)
}
func (c *crashable) SetMark(ctx context.Context, name string, v []byte) error {
	if c.dead.Load() {
		return errCrashed
	}
	return c.Store.SetMark(ctx, name, v)
}

// A standby takes over within a few seconds of the active watcher's death,
// and no write made around the failover is left valid in the cache.
func TestPostgresFailover(t *testing.T) {
	pg := testenv.StartPostgres(t)
	pgExec(t, pg.URL(), `CREATE TABLE t (id int)`)
	store := newMemory(t)
	const ttl = time.Second
	a := &crashable{Store: store}
	ra := start(t, changefeed.Config{Dialect: "postgres", Source: pg.URL(), Store: a, LeaseTTL: ttl, Holder: "a"})
	eventually(t, 10*time.Second, "a active", func() bool { return ra.w.Stats().Active && !heartbeat(t, store).IsZero() })
	rb := start(t, changefeed.Config{Dialect: "postgres", Source: pg.URL(), Store: store, LeaseTTL: ttl, Holder: "b"})
	time.Sleep(ttl)
	if rb.w.Stats().Active {
		t.Fatal("standby active while the first watcher holds the lease")
	}

	tag := tableTag("public", "t")
	var keys []string
	write := func(i int) {
		keys = append(keys, cached(t, store, tag))
		pgExec(t, pg.URL(), fmt.Sprintf("INSERT INTO t VALUES (%d)", i))
	}
	write(0)
	died := time.Now()
	a.dead.Store(true)
	ra.cancel() // its connections close, its lease stays until it expires
	for i := 1; i <= 20; i++ {
		write(i)
		time.Sleep(10 * time.Millisecond)
	}
	eventually(t, 10*time.Second, "standby active", func() bool { return rb.w.Stats().Active })
	takeover := time.Since(died)
	for i, k := range keys {
		eventually(t, 10*time.Second, fmt.Sprintf("write %d invalidated", i), func() bool { return !present(t, store, k, tag) })
	}
	if st := rb.w.Stats(); st.Resets != 0 {
		t.Fatalf("the standby reset the namespace instead of resuming from the slot: %+v", st)
	}
	t.Logf("standby took over %v after the active watcher died (lease TTL %v)", takeover, ttl)
	if takeover > 5*time.Second {
		t.Errorf("takeover took %v", takeover)
	}
}
