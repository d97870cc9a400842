package benchsuite

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/internal/testenv"
	"github.com/yokedcache/yoked/tagstore/redisstore"
)

// cpuPerOp runs f and reports this process's CPU time per iteration
// ("cpu-µs/op": user and system, every goroutine), which a loaded machine
// disturbs far less than the time per operation.
func cpuPerOp(b *testing.B, f func(b *testing.B)) {
	c0 := processCPU()
	f(b)
	b.ReportMetric((processCPU()-c0).Seconds()*1e6/float64(b.N), "cpu-µs/op")
}

// hitTags is an Observer that keeps the tags of the last hit.
type hitTags struct {
	mu   sync.Mutex
	tags []string
}

func (r *hitTags) Read(_ context.Context, ev yoked.ReadEvent) {
	if ev.Outcome == yoked.Hit {
		r.mu.Lock()
		r.tags = append(r.tags[:0], ev.Tags...)
		r.mu.Unlock()
	}
}

func (*hitTags) Invalidate(context.Context, []string, bool) {}

// BenchmarkRedisHit takes apart a PostgreSQL primary-key read served by the
// Redis store without L1: the database/sql floor ("floor"), the raw read
// ("postgres/raw"), a bare GET of the cached entry's bytes by the store's
// own client with the store's timeout ("get"), the store's Lookup of the
// same key and tags ("lookup"), and the read through database/sql
// ("queryrow"). "interleaved" runs get, lookup, queryrow and the raw read
// one after the other in each iteration (each first in turn) and reports the median of each
// (µs) and their ratios, which a shared, noisy machine disturbs least. The
// others report the client's CPU per operation too ("cpu-µs/op").
// Targets (issue 11): queryrow ≤ 1.3× get, and well under the raw read.
func BenchmarkRedisHit(b *testing.B) {
	ctx := context.Background()
	var id int64
	var name string
	queryRow := func(b *testing.B, db *sql.DB) {
		b.ReportAllocs()
		for b.Loop() {
			if err := db.QueryRowContext(ctx, pkQuery, 1).Scan(&id, &name); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("floor", func(b *testing.B) {
		db, err := sql.Open("benchsuite-floor", "")
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		queryRow(b, db)
	})
	raw := open(b, "postgres", "raw")
	b.Run("postgres/raw", func(b *testing.B) { cpuPerOp(b, func(b *testing.B) { queryRow(b, raw) }) })

	// One cached read, looked at from three levels. The client is built as
	// NewFromURL builds it; the store has no L1 whatever the defaults.
	client := redis.NewClient(&redis.Options{Addr: testenv.Redis(b), ContextTimeoutEnabled: true})
	defer client.Close()
	const timeout = time.Second // a loaded machine is not a fault
	ns := testenv.Name("bench_")
	obs := &hitTags{}
	db := open(b, "postgres", "opts", yoked.WithObserver(obs), yoked.WithNamespace(ns), yoked.WithL1(false),
		yoked.WithRedisClient(client, redisstore.Options{Timeout: timeout}))
	cache, err := yoked.CacheOf(db)
	if err != nil {
		b.Fatal(err)
	}
	// Reads bypass the cache until the catalog is loaded; then a miss
	// fills and a hit shows the tags.
	for deadline := time.Now().Add(30 * time.Second); cache.Stats().Hits == 0; {
		if time.Now().After(deadline) {
			b.Fatalf("no hit within 30s: %+v", cache.Stats())
		}
		if err := db.QueryRowContext(ctx, pkQuery, 1).Scan(&id, &name); err != nil {
			b.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	s, ok := cache.Store().(*redisstore.Store)
	if !ok {
		b.Fatalf("store is %T, not the Redis store", cache.Store())
	}
	infos, err := s.Keys(ctx, "*", 0)
	if err != nil || len(infos) != 1 {
		b.Fatalf("want the one cached read, got %d entries (%v)", len(infos), err)
	}
	key, ekey := infos[0].Key, "yoked:"+ns+":e:k:"+infos[0].Key
	if infos[0].Hashed {
		ekey = "yoked:" + ns + ":e:h:" + infos[0].Hash
	}
	obs.mu.Lock()
	tags := append([]string(nil), obs.tags...)
	obs.mu.Unlock()
	if len(tags) == 0 {
		b.Fatal("the second read was not a hit")
	}

	get := func(b *testing.B) {
		tctx, cancel := context.WithTimeout(ctx, timeout) // as the store does
		defer cancel()
		if _, err := client.Get(tctx, ekey).Bytes(); err != nil {
			b.Fatal(err)
		}
	}
	lookup := func(b *testing.B) {
		if _, hit, _, err := s.Lookup(ctx, key, tags); !hit || err != nil {
			b.Fatal("not a hit: ", err)
		}
	}
	read := func(b *testing.B, db *sql.DB) {
		if err := db.QueryRowContext(ctx, pkQuery, 1).Scan(&id, &name); err != nil {
			b.Fatal(err)
		}
	}
	hits := func(b *testing.B, f func(b *testing.B)) {
		before := cache.Stats().Hits
		f(b)
		b.ReportMetric(float64(cache.Stats().Hits-before)/float64(b.N), "hits/op")
	}
	b.Run("get", func(b *testing.B) {
		b.ReportAllocs()
		cpuPerOp(b, func(b *testing.B) {
			for b.Loop() {
				get(b)
			}
		})
	})
	b.Run("lookup", func(b *testing.B) {
		b.ReportAllocs()
		cpuPerOp(b, func(b *testing.B) {
			for b.Loop() {
				lookup(b)
			}
		})
	})
	b.Run("queryrow", func(b *testing.B) {
		cpuPerOp(b, func(b *testing.B) { hits(b, func(b *testing.B) { queryRow(b, db) }) })
	})
	b.Run("interleaved", func(b *testing.B) {
		hits(b, func(b *testing.B) {
			med := interleave(b, func() { get(b) }, func() { lookup(b) }, func() { read(b, db) }, func() { read(b, raw) })
			b.ReportMetric(med[0]/1e3, "get-µs")
			b.ReportMetric(med[1]/1e3, "lookup-µs")
			b.ReportMetric(med[2]/1e3, "queryrow-µs")
			b.ReportMetric(med[3]/1e3, "raw-µs")
			b.ReportMetric(med[1]/med[0], "lookup/get")
			b.ReportMetric(med[2]/med[0], "queryrow/get")
			b.ReportMetric(med[2]/med[3], "queryrow/raw")
		})
	})
}
