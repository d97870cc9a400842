package stress_test

import (
	"context"
	"database/sql"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/internal/staleness"
	"github.com/yokedcache/yoked/internal/stress"
	"github.com/yokedcache/yoked/internal/testenv"
	"github.com/yokedcache/yoked/tagstore"
	"github.com/yokedcache/yoked/tagstore/memory"
)

// TestStressFormsMemory runs the workload with every statement form
// (stress.Workload.Forms) in one process over the memory store with row
// tags on (its default; TestStress runs the forms on Redis, with and
// without row tags, under faults): no stale read, every form seen at work
// in the history (absent reads, tombstones, cascades) and row tags used by
// reads and writes. A store that drops invalidations must be caught by
// the same run.
func TestStressFormsMemory(t *testing.T) {
	if os.Getenv(envChild) != "" {
		t.Skip("child process")
	}
	ctx := context.Background()
	obs := &tagCounter{}
	raw, db := memoryDB(t, 64, nil, yoked.WithRowTags(true), yoked.WithObserver(obs))
	rec := &staleness.Recorder{}
	wl := &stress.Workload{DB: db, Rec: rec, Forms: true}
	// Runs of 3 s until every form did its work at least once (a loaded
	// machine does fewer writes per run), at most 10.
	var ops []staleness.Op
	var absent, tombs, children, cascaded int
	for range 10 {
		run, cancel := context.WithTimeout(ctx, 3*time.Second)
		wl.Run(run)
		cancel()
		var err error
		if ops, err = stress.Resolve(ctx, raw, rec.Ops()); err != nil {
			t.Fatal(err)
		}
		absent, tombs, children, cascaded = 0, 0, 0, 0
		for _, op := range ops {
			switch {
			case op.Kind == staleness.Read && op.Absent:
				absent++
			case op.Kind == staleness.Write && op.Committed && op.Value < 0:
				tombs++
				if op.Row > 1<<32 {
					cascaded++ // a child removed: only cascades remove children
				}
			}
			if op.Row > 1<<32 {
				children++
			}
		}
		if absent > 0 && tombs > 0 && children > 0 && cascaded > 0 {
			break
		}
	}
	rep, err := staleness.Check(ops)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", strings.SplitN(rep.String(), "\n", 2)[0])
	st := cacheStats(t, db)
	rowReads, rowWrites, tableWrites := obs.counts()
	t.Logf("absent reads %d, tombstones %d, child ops %d, cascaded child removals %d, rejected writes %d; hits %d, misses %d; reads with row tags %d; invalidations of row tags %d, of tables %d",
		absent, tombs, children, cascaded, wl.Rejected.Load(), st.Hits, st.Misses, rowReads, rowWrites, tableWrites)
	if absent == 0 || tombs == 0 || children == 0 || cascaded == 0 {
		t.Error("a form never did its work: the run proves less than it claims")
	}
	if rowReads == 0 || rowWrites == 0 || tableWrites == 0 {
		t.Error("row tags not used by reads and writes")
	}
	if st.Hits == 0 {
		t.Error("no read was served from the cache")
	}
	if rep.Stale() != 0 {
		t.Errorf("%d reads a correct cache could not have returned\n%s", rep.Stale(), rep)
	}
	if n, first := wl.Errors(); n != 0 {
		t.Errorf("%d errors reached the application, first: %q", n, first)
	}
}

// memoryDB creates the workload's schema with rows rows in a fresh
// PostgreSQL schema and opens it through yoked over a memory store (wrapped
// by wrap, if not nil); it returns the raw handle and yoked's, the catalog
// read.
func memoryDB(t *testing.T, rows int, wrap func(tagstore.Store) tagstore.Store, opts ...yoked.Option) (raw, db *sql.DB) {
	t.Helper()
	dsn := testenv.PostgresSchema(t)
	raw = openRaw(t, dsn)
	ctx := context.Background()
	if err := stress.Schema(ctx, raw, rows); err != nil {
		t.Fatal(err)
	}
	mem, err := memory.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	var store tagstore.Store = mem
	if wrap != nil {
		store = wrap(mem)
	}
	db, err = yoked.Open("pgx", dsn, append([]yoked.Option{yoked.WithStore(store)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := yoked.WaitCatalog(ctx, db); err != nil {
		t.Fatal(err)
	}
	return raw, db
}

func cacheStats(t *testing.T, db *sql.DB) yoked.Stats {
	t.Helper()
	c, err := yoked.CacheOf(db)
	if err != nil {
		t.Fatal(err)
	}
	return c.Stats()
}

// tagCounter counts reads that carry row tags, and invalidations of row
// tags and of whole tables.
type tagCounter struct {
	mu                               sync.Mutex
	rowReads, rowWrites, tableWrites int
}

func hasPrefix(tags []string, p string) bool {
	for _, t := range tags {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	return false
}

func (c *tagCounter) Read(_ context.Context, ev yoked.ReadEvent) {
	if hasPrefix(ev.Tags, yoked.RowPrefix) {
		c.mu.Lock()
		c.rowReads++
		c.mu.Unlock()
	}
}

func (c *tagCounter) Invalidate(_ context.Context, tags []string, _ bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if hasPrefix(tags, yoked.RowPrefix) {
		c.rowWrites++
	}
	if hasPrefix(tags, yoked.TablePrefix+"") && !hasPrefix(tags, yoked.RowPrefix) {
		c.tableWrites++
	}
}

func (c *tagCounter) counts() (int, int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rowReads, c.rowWrites, c.tableWrites
}
