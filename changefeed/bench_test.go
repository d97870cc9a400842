package changefeed_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/yokedcache/yoked/changefeed"
	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/internal/testenv"
	"github.com/yokedcache/yoked/tagstore/redisstore"
)

// BenchmarkPostgresEvents measures how many row events per second the
// watcher turns into invalidations (Redis store): the transactions
// are written while the watcher is stopped, then it is started and timed
// until it has applied them all.
func BenchmarkPostgresEvents(b *testing.B) {
	for _, bc := range []struct {
		name      string
		txs, rows int
		rowTags   bool // a primary key, and the feed invalidates rows
	}{
		{"single-row", 5000, 1, false},
		{"10k-row", 20, 10000, false},
		{"single-row/row-tags", 5000, 1, true},
		{"10k-row/row-tags", 20, 10000, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			pg := testenv.StartPostgres(b)
			store := redisStore(b, testenv.Redis(b))
			table := "CREATE TABLE t (id int)"
			if bc.rowTags {
				table = "CREATE TABLE t (k bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id int)"
			}
			pgExec(b, pg.URL(), table+`;
				CREATE PROCEDURE fill(txs int, rows int) LANGUAGE plpgsql AS $$
				BEGIN FOR i IN 1..txs LOOP INSERT INTO t (id) SELECT generate_series(1, rows); COMMIT; END LOOP; END $$`)
			cfg := changefeed.Config{Dialect: "postgres", Source: pg.URL(), Store: store}
			if bc.rowTags {
				cfg.RowTag, cfg.SetTag = yoked.RowTag, yoked.SetTag
			}
			r := start(b, cfg) // creates the slot
			eventually(b, 10*time.Second, "heartbeat", func() bool { return !heartbeat(b, store).IsZero() })
			r.stop(b)
			catchUp(b, cfg, bc.txs, func() { pgExec(b, pg.URL(), fmt.Sprintf("CALL fill(%d, %d)", bc.txs, bc.rows)) })
		})
	}
}

// BenchmarkPostgresInvalidationLag measures the lag from commit (the
// server's commit timestamp) to the store's acknowledgement of the
// invalidation, with Redis and L1 on the readers' side, under a steady
// stream of single-row transactions from a client that bypasses yoked.
func BenchmarkPostgresInvalidationLag(b *testing.B) {
	pg := testenv.StartPostgres(b)
	addr := testenv.Redis(b)
	ns := testenv.Name("lag")
	reader := redisStoreOpt(b, addr, redisstore.Options{Namespace: ns, L1: newMemory(b)}) // a reader process's store with its L1
	_ = reader
	store := redisStoreNS(b, addr, ns)
	pgExec(b, pg.URL(), `CREATE TABLE t (id int)`)
	r := start(b, changefeed.Config{Dialect: "postgres", Source: pg.URL(), Store: store})
	eventually(b, 10*time.Second, "heartbeat", func() bool { return !heartbeat(b, store).IsZero() })
	ctx := context.Background()
	c, err := pgconn.Connect(ctx, pg.URL())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(ctx)
	b.ResetTimer()
	for i := range b.N * 2000 {
		if _, err := c.Exec(ctx, fmt.Sprintf("INSERT INTO t VALUES (%d)", i)).ReadAll(); err != nil {
			b.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	eventually(b, time.Minute, "all applied", func() bool { return r.w.Stats().Transactions >= uint64(b.N*2000) })
	b.StopTimer()
	st := r.w.Stats()
	b.ReportMetric(float64(st.LagP50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(st.LagP99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(st.LagMax.Microseconds())/1000, "max-ms")
}

// BenchmarkMySQLEvents is BenchmarkPostgresEvents on a private MariaDB.
func BenchmarkMySQLEvents(b *testing.B) {
	for _, bc := range []struct {
		name      string
		txs, rows int
	}{
		{"single-row", 5000, 1},
		{"10k-row", 20, 10000},
	} {
		b.Run(bc.name, func(b *testing.B) {
			my := testenv.StartMariaDB(b)
			db := openMariaDB(b, my.DSN("mysql"))
			myExec(b, db, "CREATE DATABASE app", "CREATE TABLE app.t (id int)", `CREATE PROCEDURE app.fill(txs int, nrows int)
				BEGIN
				  DECLARE i INT DEFAULT 0;
				  WHILE i < txs DO
				    START TRANSACTION;
				    INSERT INTO app.t SELECT seq FROM seq_1_to_100000 LIMIT nrows;
				    COMMIT;
				    SET i = i + 1;
				  END WHILE;
				END`)
			store := redisStore(b, testenv.Redis(b))
			cfg := changefeed.Config{Dialect: "mysql", Source: my.DSN("app"), Store: store}
			r := start(b, cfg) // saves the first position
			eventually(b, 20*time.Second, "heartbeat", func() bool { return !heartbeat(b, store).IsZero() })
			r.stop(b)
			catchUp(b, cfg, bc.txs, func() { myExec(b, db, fmt.Sprintf("CALL app.fill(%d, %d)", bc.txs, bc.rows)) })
		})
	}
}

// catchUp times, b.N times, a watcher started after write committed txs
// transactions, until it has applied them all, and reports events and
// transactions per second.
func catchUp(b *testing.B, cfg changefeed.Config, txs int, write func()) {
	b.ResetTimer()
	var events uint64
	var took time.Duration
	for range b.N {
		b.StopTimer()
		write()
		b.StartTimer()
		t0 := time.Now()
		r := start(b, cfg)
		eventually(b, 5*time.Minute, "all applied", func() bool { return r.w.Stats().Transactions >= uint64(txs) })
		took += time.Since(t0)
		events += r.w.Stats().Events
		b.StopTimer()
		r.stop(b)
		b.StartTimer()
	}
	b.ReportMetric(float64(events)/took.Seconds(), "events/s")
	b.ReportMetric(float64(b.N*txs)/took.Seconds(), "txs/s")
}

// BenchmarkPostgresLagUnderLoad measures the invalidation lag under the
// stale-read checker's load (TestPostgresStaleReads: four readers through
// yoked with the Redis store and L1, four raw pgx writers, two writers
// forking a psql per statement), with one watcher and no failover, for 5 s
// per iteration, with one invalidation under way at a time (the default)
// and with up to 4. Besides the lag it reports its parts:
// commit to the watcher reading the commit from the stream (arrival), read
// to the start of its invalidation (queue), and the invalidation (store: the
// script and the readers' L1 acknowledgements); how many invalidations
// waited for the full L1 fence; and how late a 1 ms sleep in the watcher's
// process wakes up (sleep-late), the scheduling delay every hop of the path
// pays on a saturated machine.
func BenchmarkPostgresLagUnderLoad(b *testing.B) {
	for _, inFlight := range []int{1, 4} {
		b.Run(fmt.Sprintf("in-flight=%d", inFlight), func(b *testing.B) {
			defer func(n int) { *changefeed.MaxInFlight = n }(*changefeed.MaxInFlight)
			*changefeed.MaxInFlight = inFlight
			run := openStale(b, pgStaleSetup(b), 500*time.Millisecond)
			r := start(b, changefeed.Config{Dialect: "postgres", Source: run.env.source, Store: run.store})
			eventually(b, 20*time.Second, "heartbeat", func() bool { return !heartbeat(b, run.store).IsZero() })
			fence0 := run.store.RedisStats().FenceWaits
			b.ResetTimer()
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(b.N)*5*time.Second)
			defer cancel()
			late := make(chan []time.Duration)
			go func() {
				var d []time.Duration
				for ctx.Err() == nil {
					t0 := time.Now()
					time.Sleep(time.Millisecond)
					d = append(d, time.Since(t0)-time.Millisecond)
				}
				late <- d
			}()
			run.load(ctx, b).Wait()
			b.StopTimer()
			reportLag(b, r.w.Stats())
			b.ReportMetric(float64(run.store.RedisStats().FenceWaits-fence0), "fence-waits")
			d := <-late
			slices.Sort(d)
			b.ReportMetric(float64(d[len(d)/2].Microseconds())/1000, "sleep-late-p50-ms")
			b.ReportMetric(float64(d[len(d)*99/100].Microseconds())/1000, "sleep-late-p99-ms")
		})
	}
}

// reportLag reports a watcher's invalidation lag and its parts.
func reportLag(b *testing.B, st changefeed.Stats) {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(float64(st.Transactions), "txs")
	b.ReportMetric(ms(st.LagP50), "p50-ms")
	b.ReportMetric(ms(st.LagP99), "p99-ms")
	b.ReportMetric(ms(st.LagMax), "max-ms")
	b.ReportMetric(ms(st.ArrivalP50), "arrival-p50-ms")
	b.ReportMetric(ms(st.ArrivalP99), "arrival-p99-ms")
	b.ReportMetric(ms(st.QueueP99), "queue-p99-ms")
	b.ReportMetric(ms(st.StoreP50), "store-p50-ms")
	b.ReportMetric(ms(st.StoreP99), "store-p99-ms")
}
