package driver_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	yoked "github.com/yokedcache/yoked/driver"
)

// tableTags drops the schema epoch tag every read is also keyed on, and
// row tags.
func tableTags(tags []string) []string {
	return slices.DeleteFunc(slices.Clone(tags), func(t string) bool {
		return strings.HasPrefix(t, "schema:") || strings.HasPrefix(t, "row:")
	})
}

// recorder is an Observer that keeps what it was told.
type recorder struct {
	mu    sync.Mutex
	reads []yoked.ReadEvent
	invs  [][]string
	all   []bool
}

func (r *recorder) Read(_ context.Context, ev yoked.ReadEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev.Tags = slices.Clone(ev.Tags)
	r.reads = append(r.reads, ev)
}

func (r *recorder) Invalidate(_ context.Context, tags []string, all bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.invs = append(r.invs, slices.Clone(tags))
	r.all = append(r.all, all)
}

func (r *recorder) last(t *testing.T) yoked.ReadEvent {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reads) == 0 {
		t.Fatal("no read observed")
	}
	return r.reads[len(r.reads)-1]
}

func TestObserverSeesEachDecision(t *testing.T) {
	rec := &recorder{}
	db, _, _ := openSQLite(t, yoked.WithObserver(rec))
	ctx := context.Background()
	q := `SELECT name FROM users WHERE id = ?`

	queryString(t, db, ctx, q, 1)
	if ev := rec.last(t); ev.Outcome != yoked.Miss || !slices.Equal(tableTags(ev.Tags), []string{"table:users"}) || ev.Reason != "" {
		t.Fatalf("first read: %+v", ev)
	}
	queryString(t, db, ctx, q, 1)
	if ev := rec.last(t); ev.Outcome != yoked.Hit || !slices.Equal(tableTags(ev.Tags), []string{"table:users"}) {
		t.Fatalf("second read: %+v", ev)
	}
	queryString(t, db, yoked.WithTags(ctx, "user:1"), q, 1)
	if ev := rec.last(t); ev.Outcome != yoked.Miss || !slices.Equal(tableTags(ev.Tags), []string{"table:users", "user:1"}) {
		t.Fatalf("read with a tag: %+v", ev)
	}
	queryString(t, db, ctx, `SELECT name FROM users WHERE id = ? AND random() IS NOT NULL`, 1)
	if ev := rec.last(t); ev.Outcome != yoked.Bypass || ev.Reason != "not_cacheable" || ev.Detail == "" {
		t.Fatalf("volatile read: %+v", ev)
	}
	queryString(t, db, yoked.SkipCache(ctx), q, 1)
	if ev := rec.last(t); ev.Outcome != yoked.Bypass || ev.Reason != "context" || ev.Detail != "" {
		t.Fatalf("skipped read: %+v", ev)
	}

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	queryString(t, tx, ctx, q, 1)
	if ev := rec.last(t); ev.Outcome != yoked.Bypass || ev.Reason != "in_transaction" {
		t.Fatalf("read in a transaction: %+v", ev)
	}
	mustExec(t, tx, `UPDATE orders SET total = 11 WHERE id = 1`)
	rec.mu.Lock()
	before := len(rec.invs)
	rec.mu.Unlock()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, `UPDATE users SET name = 'ada2' WHERE id = 1`)
	rec.mu.Lock()
	invs, all := rec.invs[before:], rec.all[before:]
	rec.mu.Unlock()
	names := func(tags []string, table string) bool { // every tag is of table (table, set or row tag)
		return len(tags) > 0 && !slices.ContainsFunc(tags, func(t string) bool { return !strings.Contains(t, table) })
	}
	if len(invs) != 2 || !names(invs[0], "orders") || !names(invs[1], "users") || all[0] || all[1] {
		t.Fatalf("invalidations after commit and autocommit write: %v %v", invs, all)
	}
	if got := queryString(t, db, ctx, q, 1); got != "ada2" || rec.last(t).Outcome != yoked.Miss {
		t.Fatalf("read after the write: %q %+v", got, rec.last(t))
	}
}

// The hook costs a hit no allocation: a hit allocates as much with a
// (no-op) Observer as without one.
func TestObserverAddsNoAllocation(t *testing.T) {
	ctx := context.Background()
	q := `SELECT name FROM users WHERE id = ?`
	hit := func(opts ...yoked.Option) float64 {
		db, _, _ := openSQLite(t, opts...)
		queryString(t, db, ctx, q, 1)
		return testing.AllocsPerRun(200, func() { queryString(t, db, ctx, q, 1) })
	}
	without, with := hit(), hit(yoked.WithObserver(nopObserver{}))
	if with != without {
		t.Errorf("allocations per hit: %v without an observer, %v with a no-op one", without, with)
	}
}

type nopObserver struct{}

func (nopObserver) Read(context.Context, yoked.ReadEvent)      {}
func (nopObserver) Invalidate(context.Context, []string, bool) {}
