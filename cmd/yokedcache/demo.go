package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	_ "github.com/mattn/go-sqlite3" // the demo's embedded database
	"github.com/spf13/cobra"

	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/tagstore/memory"
)

func newDemoCmd(e *env) *cobra.Command {
	var rows, reads int
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a small workload on SQLite + the in-memory store and show what the cache did",
		Long: `demo creates a SQLite file in a temporary directory, opens it through yoked
(driver yoked+sqlite3, in-memory store) and tells what the cache does.

First, step by step with the time of each: a read (miss), the same read
(hit), an UPDATE (invalidates table:users), the read (miss, the fresh value),
the read (hit).

Then a small shop workload, counted on its own: --reads random primary-key
reads and joins, a checking read after each write, UPDATEs through Exec,
transactions that commit and one that rolls back. Every read is checked
against the values the workload wrote, so a stale read fails the demo (exit
1). It prints hits + misses + skipped reads (by reason) = reads,
invalidations (one per committed write), and the median latency of a cache
hit against the same query read straight from go-sqlite3: one run on this
machine, not a benchmark.`,
		Args: noArgs,
	}
	format := addFormat(cmd)
	cmd.Flags().IntVar(&rows, "rows", 200, "number of users (each gets 3 orders)")
	cmd.Flags().IntVar(&reads, "reads", 5000, "number of cached reads in the workload")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkFormat(*format); err != nil {
			return err
		}
		if rows < 1 || rows > 1_000_000 {
			return usagef("--rows must be between 1 and 1000000, not %d", rows)
		}
		if reads < 1 || reads > 10_000_000 {
			return usagef("--reads must be between 1 and 10000000, not %d", reads)
		}
		rep, err := runDemo(cmd.Context(), rows, reads)
		if err != nil {
			return err
		}
		return emit(e, *format, rep)
	}
	return cmd
}

// demoReport is what demo prints; its JSON form is documented in docs/cli.md.
// The workload's counters are counted from the end of the story: setup and
// story writes are not in them. Every read of the workload is a hit, a miss
// or a skip (Hits+Misses+skips = Reads), and every committed write is one
// invalidation (Invalidations = ExecUpdates+TxCommitted).
type demoReport struct {
	Database         string            `json:"database"`
	Users            int               `json:"users"`
	Orders           int               `json:"orders"`
	Story            []demoStep        `json:"story"`
	Reads            int               `json:"reads"`              // every read of the workload, each checked
	RandomReads      int               `json:"random_reads"`       // --reads: primary-key lookups and joins of random users
	ReadsAfterWrites int               `json:"reads_after_writes"` // reads that check a write (Reads-RandomReads)
	ReadsChecked     int               `json:"reads_checked"`      // = Reads: a stale read fails the demo instead
	ExecUpdates      int               `json:"exec_updates"`
	TxCommitted      int               `json:"tx_committed"`
	TxRolledBack     int               `json:"tx_rolled_back"`
	Hits             uint64            `json:"hits"`
	Misses           uint64            `json:"misses"`
	HitRatio         float64           `json:"hit_ratio"`
	Stores           uint64            `json:"stores"`
	Invalidations    uint64            `json:"invalidations"`
	Skips            map[string]uint64 `json:"skips"`
	LatencyRuns      int               `json:"latency_samples"`
	HitP50           time.Duration     `json:"hit_p50_ns"`
	RawP50           time.Duration     `json:"raw_p50_ns"`
}

// demoStep is one step of the story: a read (miss or hit) or a write.
type demoStep struct {
	Action  string        `json:"action"`  // "read" or "write"
	SQL     string        `json:"sql"`     // with the arguments filled in
	Outcome string        `json:"outcome"` // "miss", "hit" or "invalidated table:users"
	Balance int64         `json:"balance"` // user 1's balance the read returned, or after the write
	Time    time.Duration `json:"time_ns"`
}

func (r *demoReport) print(w io.Writer) {
	fmt.Fprintf(w, "yoked demo: SQLite file in a temp dir, opened as yoked+sqlite3 with the in-memory store\n")
	fmt.Fprintf(w, "            %d users, %d orders\n\n", r.Users, r.Orders)
	fmt.Fprintf(w, "step by step, one user's balance:\n")
	for i, st := range r.Story {
		fmt.Fprintf(w, "  %d. %-5s  %-24s  balance %-6d %10v   %s\n", i+1, st.Action, st.Outcome, st.Balance, st.Time.Round(time.Microsecond/10), st.SQL)
	}
	fmt.Fprintf(w, "\nthen a workload (counted from here on):\n")
	fmt.Fprintf(w, "  %d reads: %d random primary-key lookups and joins, %d reads checking a write\n", r.Reads, r.RandomReads, r.ReadsAfterWrites)
	fmt.Fprintf(w, "  %d UPDATEs through Exec, %d committed transactions, %d rolled back\n", r.ExecUpdates, r.TxCommitted, r.TxRolledBack)
	fmt.Fprintf(w, "  checked: all %d reads returned the latest committed values\n\n", r.ReadsChecked)
	var skipped uint64
	for _, n := range r.Skips {
		skipped += n
	}
	fmt.Fprintf(w, "  hits           %8d\n", r.Hits)
	fmt.Fprintf(w, "  misses         %8d   (%d stored)\n", r.Misses, r.Stores)
	fmt.Fprintf(w, "  skipped cache  %8d%s\n", skipped, skipSummary(r.Skips))
	fmt.Fprintf(w, "  = reads        %8d   hit ratio %.1f%% of the cacheable reads\n", r.Hits+r.Misses+skipped, 100*r.HitRatio)
	fmt.Fprintf(w, "  invalidations  %8d   (one per committed write: %d UPDATEs + %d transactions; the rollback invalidates nothing)\n\n",
		r.Invalidations, r.ExecUpdates, r.TxCommitted)
	fmt.Fprintf(w, "median latency of one primary-key read, %d samples each (one run on this machine):\n", r.LatencyRuns)
	fmt.Fprintf(w, "  yoked, cache hit   %10v\n", r.HitP50)
	fmt.Fprintf(w, "  raw go-sqlite3     %10v", r.RawP50)
	if r.HitP50 > 0 {
		fmt.Fprintf(w, "   (hit is %.1fx faster)", float64(r.RawP50)/float64(r.HitP50))
	}
	fmt.Fprintln(w)
}

func skipSummary(m map[string]uint64) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return "  (" + strings.Join(parts, ", ") + ")"
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// shop is the demo's model of what the database must contain: every read is
// compared with it.
type shop struct {
	db, raw *sql.DB
	balance []int64 // by user id-1, in cents
	orders  []int64 // order count by user id-1
	total   []int64 // order amount sum by user id-1
	checked int
}

const (
	qUser = `SELECT id, name, balance FROM users WHERE id = ?`
	qJoin = `SELECT u.name, COUNT(o.id), COALESCE(SUM(o.amount), 0) FROM users u JOIN orders o ON o.user_id = u.id WHERE u.id = ? GROUP BY u.name`
)

func runDemo(ctx context.Context, nUsers, nReads int) (*demoReport, error) {
	dir, err := os.MkdirTemp("", "yoked-demo-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "shop.db")
	dsn := "file:" + path + "?_busy_timeout=5000&_journal_mode=WAL"

	store, err := memory.New(nil)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	seen := &invalidations{}
	db, err := yoked.Open("sqlite3", dsn, yoked.WithStore(store), yoked.WithObserver(seen))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	raw, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, err
	}
	defer raw.Close()
	cache, err := yoked.CacheOf(db)
	if err != nil {
		return nil, err
	}

	s := &shop{db: db, raw: raw, balance: make([]int64, nUsers), orders: make([]int64, nUsers), total: make([]int64, nUsers)}
	if err := s.setup(ctx); err != nil {
		return nil, fmt.Errorf("demo: setting up the database: %w", err)
	}
	rep := &demoReport{Database: "sqlite3", Users: nUsers, RandomReads: nReads}
	if rep.Story, err = s.story(ctx, cache, seen); err != nil {
		return nil, err
	}
	before := cache.Stats()
	s.checked = 0
	rng := rand.New(rand.NewPCG(1, 2))
	hot := max(1, min(nUsers, 20)) // a small hot set, as real traffic has
	writeEvery := max(10, nReads/20)
	for i := 1; i <= nReads; i++ {
		id := 1 + rng.IntN(hot)
		if rng.IntN(4) == 0 {
			id = 1 + rng.IntN(nUsers)
		}
		var err error
		if i%3 == 0 {
			err = s.checkJoin(ctx, s.db, id)
		} else {
			err = s.checkUser(ctx, s.db, id)
		}
		if err != nil {
			return nil, err
		}
		if i%writeEvery != 0 {
			continue
		}
		switch w := i / writeEvery; {
		case w%4 == 3:
			if err = s.orderTx(ctx, id, int64(100+rng.IntN(900))); err == nil {
				rep.TxCommitted++
			}
		case w == 2:
			if err = s.rolledBack(ctx, id); err == nil {
				rep.TxRolledBack++
			}
		default:
			if err = s.credit(ctx, id, int64(1+rng.IntN(500))); err == nil {
				rep.ExecUpdates++
			}
		}
		if err != nil {
			return nil, err
		}
	}
	if rep.TxRolledBack == 0 { // short runs still show a rollback
		if err := s.rolledBack(ctx, 1); err != nil {
			return nil, err
		}
		rep.TxRolledBack++
	}

	st := cache.Stats()
	rep.Reads, rep.ReadsChecked = s.checked, s.checked
	rep.ReadsAfterWrites = s.checked - nReads
	rep.Orders = int(sum(s.orders))
	rep.Hits, rep.Misses = st.Hits-before.Hits, st.Misses-before.Misses
	rep.Stores, rep.Invalidations = st.Stores-before.Stores, st.Invalidations-before.Invalidations
	if n := rep.Hits + rep.Misses; n > 0 {
		rep.HitRatio = float64(rep.Hits) / float64(n)
	}
	rep.Skips = map[string]uint64{}
	for k, v := range st.Skips {
		if d := v - before.Skips[k]; d > 0 {
			rep.Skips[k] = d
		}
	}
	rep.LatencyRuns = min(max(nReads/2, 200), 2000)
	rep.HitP50, rep.RawP50, err = s.latency(ctx, rep.LatencyRuns)
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// story reads user 1 twice, credits it, and reads it twice again, timing
// each step and telling from the cache's counters whether a read was a hit.
// invalidations remembers the tags of the last write the driver made
// visible, so the story says what a write really invalidated.
type invalidations struct {
	mu   sync.Mutex
	last []string
	all  bool
}

func (o *invalidations) Read(context.Context, yoked.ReadEvent) {}

func (o *invalidations) Invalidate(_ context.Context, tags []string, all bool) {
	o.mu.Lock()
	o.last, o.all = append(o.last[:0], tags...), all
	o.mu.Unlock()
}

func (o *invalidations) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.all {
		return "everything"
	}
	return strings.Join(o.last, " ")
}

func (s *shop) story(ctx context.Context, cache *yoked.Cache, seen *invalidations) ([]demoStep, error) {
	const id, credit = 1, 250
	read := func() (demoStep, error) {
		before := cache.Stats()
		t0 := time.Now()
		err := s.checkUser(ctx, s.db, id)
		d := time.Since(t0)
		after := cache.Stats()
		st := demoStep{Action: "read", SQL: strings.Replace(qUser, "?", fmt.Sprint(id), 1), Balance: s.balance[id-1], Time: d}
		switch {
		case after.Hits == before.Hits+1:
			st.Outcome = "hit"
		case after.Misses == before.Misses+1:
			st.Outcome = "miss"
		default:
			st.Outcome = "not cached"
		}
		return st, err
	}
	var steps []demoStep
	for i := range 5 {
		if i == 2 {
			before := cache.Stats().Invalidations
			t0 := time.Now()
			if _, err := s.db.ExecContext(ctx, `UPDATE users SET balance = balance + ? WHERE id = ?`, credit, id); err != nil {
				return nil, err
			}
			d := time.Since(t0)
			s.balance[id-1] += credit
			out := "no invalidation"
			if cache.Stats().Invalidations == before+1 {
				out = "invalidated " + seen.String()
			}
			steps = append(steps, demoStep{Action: "write", Outcome: out, Balance: s.balance[id-1], Time: d,
				SQL: fmt.Sprintf("UPDATE users SET balance = balance + %d WHERE id = %d", credit, id)})
			continue
		}
		st, err := read()
		if err != nil {
			return nil, err
		}
		if i == 3 {
			st.Outcome += " (fresh value)"
		}
		steps = append(steps, st)
	}
	return steps, nil
}

func sum(v []int64) int64 {
	var n int64
	for _, x := range v {
		n += x
	}
	return n
}

func (s *shop) setup(ctx context.Context) error {
	for _, q := range []string{
		`CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, balance INTEGER NOT NULL)`,
		`CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id), amount INTEGER NOT NULL)`,
		`CREATE INDEX orders_user ON orders(user_id)`,
	} {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for i := range s.balance {
		s.balance[i] = int64(1000 * (i%7 + 1))
		if _, err := tx.ExecContext(ctx, `INSERT INTO users (id, name, balance) VALUES (?, ?, ?)`, i+1, fmt.Sprintf("user%d", i+1), s.balance[i]); err != nil {
			return err
		}
		for j := range 3 {
			amount := int64(100 * (j + 1))
			if _, err := tx.ExecContext(ctx, `INSERT INTO orders (user_id, amount) VALUES (?, ?)`, i+1, amount); err != nil {
				return err
			}
			s.orders[i]++
			s.total[i] += amount
		}
	}
	return tx.Commit()
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

var errStale = errors.New("demo: STALE READ")

func (s *shop) checkUser(ctx context.Context, q queryer, id int) error {
	var gotID int
	var name string
	var bal int64
	if err := q.QueryRowContext(ctx, qUser, id).Scan(&gotID, &name, &bal); err != nil {
		return fmt.Errorf("demo: reading user %d: %w", id, err)
	}
	s.checked++
	if gotID != id || bal != s.balance[id-1] {
		return fmt.Errorf("%w: user %d has balance %d, expected %d", errStale, id, bal, s.balance[id-1])
	}
	return nil
}

func (s *shop) checkJoin(ctx context.Context, q queryer, id int) error {
	var name string
	var n, total int64
	if err := q.QueryRowContext(ctx, qJoin, id).Scan(&name, &n, &total); err != nil {
		return fmt.Errorf("demo: reading orders of user %d: %w", id, err)
	}
	s.checked++
	if n != s.orders[id-1] || total != s.total[id-1] {
		return fmt.Errorf("%w: user %d has %d orders totalling %d, expected %d totalling %d", errStale, id, n, total, s.orders[id-1], s.total[id-1])
	}
	return nil
}

// credit is an autocommit UPDATE; the next read must see it.
func (s *shop) credit(ctx context.Context, id int, cents int64) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE users SET balance = balance + ? WHERE id = ?`, cents, id); err != nil {
		return err
	}
	s.balance[id-1] += cents
	return s.checkUser(ctx, s.db, id)
}

// orderTx places an order and debits the user in one transaction; a read
// inside the transaction sees its own write, and after Commit everybody does.
func (s *shop) orderTx(ctx context.Context, id int, amount int64) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO orders (user_id, amount) VALUES (?, ?)`, id, amount); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE users SET balance = balance - ? WHERE id = ?`, amount, id); err != nil {
		return err
	}
	s.balance[id-1] -= amount
	s.orders[id-1]++
	s.total[id-1] += amount
	if err := s.checkUser(ctx, tx, id); err != nil { // read-your-writes inside the transaction
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if err := s.checkUser(ctx, s.db, id); err != nil {
		return err
	}
	return s.checkJoin(ctx, s.db, id)
}

// rolledBack changes a balance in a transaction and rolls it back: nobody may
// ever see the change.
func (s *shop) rolledBack(ctx context.Context, id int) error {
	if err := s.checkUser(ctx, s.db, id); err != nil { // make sure it is cached
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE users SET balance = 0 WHERE id = ?`, id); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Rollback(); err != nil {
		return err
	}
	return s.checkUser(ctx, s.db, id)
}

// latency measures the median time of the same primary-key read served from
// the cache and read straight from go-sqlite3, interleaved so that both see
// the same machine conditions.
func (s *shop) latency(ctx context.Context, n int) (hit, raw time.Duration, err error) {
	if err := s.checkUser(ctx, s.db, 1); err != nil { // warm the entry
		return 0, 0, err
	}
	hits := make([]time.Duration, n)
	raws := make([]time.Duration, n)
	for i := range n {
		t0 := time.Now()
		err := s.checkUser(ctx, s.db, 1)
		t1 := time.Now()
		if err == nil {
			err = s.checkUser(ctx, s.raw, 1)
		}
		t2 := time.Now()
		if err != nil {
			return 0, 0, err
		}
		hits[i], raws[i] = t1.Sub(t0), t2.Sub(t1)
	}
	return median(hits), median(raws), nil
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[len(d)/2]
}
