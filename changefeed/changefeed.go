package changefeed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/yokedcache/yoked/catalog"
)

// Names of what a feed keeps in the store (see Coordinator).
const (
	// LeaseName is the lease held by the active watcher of a namespace.
	LeaseName = "changefeed"
	// HeartbeatMark holds "<unix nanoseconds> <position>": every transaction
	// whose commit returned before that time has been invalidated.
	HeartbeatMark = "changefeed.heartbeat"
	// PositionMark holds the saved stream position of a MySQL source.
	PositionMark = "changefeed.position"
)

// SchemaTag is invalidated (its version bumped) with everything else
// whenever the feed sees DDL, for any reader that wants to know; the
// driver's own schema epoch is Config.SchemaTag.
const SchemaTag = "schema:epoch"

// Defaults of Config fields left at zero.
const (
	DefaultSlot           = "yoked"
	DefaultPublication    = "yoked"
	DefaultLeaseTTL       = 2 * time.Second
	DefaultHeartbeatEvery = 50 * time.Millisecond
)

// Store is what a feed needs of a tag store: invalidation, and the lease and
// marks of Coordinator. tagstore/memory and tagstore/redisstore stores
// satisfy it.
type Store interface {
	InvalidateTags(ctx context.Context, tags ...string) error
	InvalidateAll(ctx context.Context) error
	Coordinator
}

// Coordinator keeps the state watchers share through the store.
type Coordinator interface {
	// AcquireLease takes (or renews) the lease name for holder for ttl and
	// reports whether holder holds it.
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	// ReleaseLease frees the lease if holder holds it.
	ReleaseLease(ctx context.Context, name, holder string) error
	// SetMark and Mark store and read a small value; Mark returns nil when
	// there is none.
	SetMark(ctx context.Context, name string, value []byte) error
	Mark(ctx context.Context, name string) ([]byte, error)
}

// Config configures a Watcher.
type Config struct {
	// Dialect is "postgres" or "mysql" (MariaDB too).
	Dialect string
	// Source is the database: a PostgreSQL URL or keyword DSN, or a MySQL
	// DSN as go-sql-driver/mysql takes it (user:pass@tcp(host:port)/db).
	Source string
	// Store is the tag store to invalidate; it must be the store (and
	// namespace) the readers use.
	Store Store
	// TableTag returns the tag of a table, exactly as the readers tag their
	// reads (the driver's TableTag). Required.
	TableTag func(schema, table string) string
	// SchemaTag returns the readers' schema-epoch tag of a database named
	// as catalog.Database names it (the driver's SchemaTag). When set, DDL
	// bumps it too, so readers' schema catalogs are read again. Optional.
	SchemaTag func(database string) string
	// RowTag and SetTag, when both are set, let the watcher invalidate the
	// rows a transaction changed instead of their whole tables: a row
	// change whose event names the row's full primary key (as the
	// watcher's catalog, read at the stream's position, has it) bumps that
	// row's tag and the table's set tag; every other change bumps the
	// table's tag. They are the driver's RowTag and SetTag, whose tags the
	// readers carry; table is "schema.table". RowTag's ok=false falls back
	// to the table's tag. Leave them nil for whole-table invalidation, and
	// with a TableTag that names tables otherwise than they do (one that
	// drops the schema, for readers opened WithoutCatalog): New refuses a
	// configuration whose three functions name a table differently.
	RowTag func(table string, key []catalog.Column, values []any) (string, bool)
	SetTag func(table string) string

	// Slot and Publication name the PostgreSQL replication slot and
	// publication (created when missing). Defaults: "yoked".
	Slot, Publication string
	// ServerID is the MySQL replica server id the watcher reads the binlog
	// as; it must differ from every server and replica. Default: random in
	// [1<<30, 1<<31).
	ServerID uint32

	// Holder names this watcher in the lease (default host:pid:random).
	Holder string
	// LeaseTTL is how long a lease outlives its last renewal: a standby takes
	// over within about LeaseTTL of the active watcher's death. Default 2s.
	LeaseTTL time.Duration
	// HeartbeatEvery is the period of heartbeats. Default 50ms; at most 100ms.
	HeartbeatEvery time.Duration
	// Logger receives what the watcher does (default: discarded).
	Logger *slog.Logger
}

// ErrConfig wraps every configuration error.
var ErrConfig = errors.New("changefeed: invalid configuration")

// errLostLease ends a session whose watcher no longer holds the lease.
var errLostLease = errors.New("changefeed: lease lost to another watcher")

func (c *Config) resolve() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
	switch strings.ToLower(c.Dialect) {
	case "postgres", "postgresql", "pgx":
		c.Dialect = "postgres"
	case "mysql", "mariadb":
		c.Dialect = "mysql"
	default:
		return bad("dialect %q: want postgres or mysql", c.Dialect)
	}
	if c.Source == "" {
		return bad("no source database")
	}
	if c.Store == nil {
		return bad("no store")
	}
	if c.TableTag == nil {
		return bad("no TableTag function (pass the driver's)")
	}
	if (c.RowTag == nil) != (c.SetTag == nil) {
		return bad("RowTag and SetTag go together (pass the driver's, or neither)")
	}
	if c.RowTag != nil {
		// Readers carry table:X and set:X of one name X, and row:X(…): a
		// row change bumps only the set and row tags, so a name that differs
		// from the table tag's would invalidate nothing readers carry.
		name := func(tag string) string { _, n, _ := strings.Cut(tag, ":"); return n }
		table, set := c.TableTag("s", "t"), c.SetTag("s.t")
		row, ok := c.RowTag("s.t", []catalog.Column{{Name: "id", Type: "int", Exact: true}}, []any{int64(1)})
		if r, _, _ := strings.Cut(name(row), "("); !ok || name(set) != name(table) || r != name(table) {
			return bad("TableTag, SetTag and RowTag name table s.t differently (%q, %q, %q): pass the driver's three, or leave RowTag and SetTag nil (readers opened WithoutCatalog, whose TableTag drops the schema)",
				table, set, row)
		}
	}
	if c.Slot == "" {
		c.Slot = DefaultSlot
	}
	if c.Publication == "" {
		c.Publication = DefaultPublication
	}
	for _, n := range []string{c.Slot, c.Publication} {
		if !validIdent(n) {
			return bad("%q is not a valid slot or publication name (lower-case letters, digits, underscore)", n)
		}
	}
	if c.ServerID == 0 {
		var b [4]byte
		rand.Read(b[:])
		c.ServerID = 1<<30 | uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])
	}
	if c.Holder == "" {
		host, _ := os.Hostname()
		var b [4]byte
		rand.Read(b[:])
		c.Holder = host + ":" + strconv.Itoa(os.Getpid()) + ":" + hex.EncodeToString(b[:])
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	if c.LeaseTTL < 100*time.Millisecond {
		return bad("lease TTL %v is shorter than 100ms", c.LeaseTTL)
	}
	if c.HeartbeatEvery == 0 {
		c.HeartbeatEvery = DefaultHeartbeatEvery
	}
	if c.HeartbeatEvery < time.Millisecond || c.HeartbeatEvery > 100*time.Millisecond {
		return bad("heartbeat period %v is not within 1ms..100ms", c.HeartbeatEvery)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

func validIdent(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r == '_':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// source is one database's replication stream.
type source interface {
	// session connects, resumes from the saved position and streams until
	// ctx ends or something fails. It returns ctx's error or the failure.
	session(ctx context.Context, w *Watcher) error
}

// Watcher turns a database's committed transactions into invalidations.
// Create it with New and start it with Run; its Stats may be read at any
// time from any goroutine.
type Watcher struct {
	cfg Config
	src source

	active                                   atomic.Bool
	events, txs, invalidations, errs, resets atomic.Uint64
	heartbeat                                atomic.Int64 // unix nanos of the last heartbeat written
	mu                                       sync.Mutex
	position, slot                           string
	lastErr                                  string
	lags                                     lagRing
	arrivals, queued, stored                 lagRing // parts of lags: commit to read, read to apply, apply
	// ddlTags are bumped with SchemaTag on DDL: the readers' schema epoch
	// of the watched database, set by a session before it streams.
	ddlTags []string
}

// New checks cfg and returns a Watcher. It does not connect.
func New(cfg Config) (*Watcher, error) {
	if err := cfg.resolve(); err != nil {
		return nil, err
	}
	w := &Watcher{cfg: cfg}
	switch cfg.Dialect {
	case "postgres":
		src, err := newPostgres(cfg)
		if err != nil {
			return nil, err
		}
		w.src = src
		w.slot = cfg.Slot
	case "mysql":
		src, err := newMySQL(cfg)
		if err != nil {
			return nil, err
		}
		w.src = src
	}
	return w, nil
}

// Run watches until ctx ends, then releases the lease and returns nil. It
// returns an error only for a configuration it cannot start with. While
// another watcher holds the lease, Run waits as a standby; connection,
// stream and store failures are logged, counted in Stats, and retried.
func Run(ctx context.Context, cfg Config) error {
	w, err := New(cfg)
	if err != nil {
		return err
	}
	return w.Run(ctx)
}

// Run watches until ctx ends (see the package function Run).
func (w *Watcher) Run(ctx context.Context) error {
	log := w.cfg.Logger
	backoff := 50 * time.Millisecond
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		_ = w.cfg.Store.ReleaseLease(rctx, LeaseName, w.cfg.Holder)
		cancel()
	}()
	for ctx.Err() == nil {
		ok, err := w.cfg.Store.AcquireLease(ctx, LeaseName, w.cfg.Holder, w.cfg.LeaseTTL)
		if err != nil {
			w.fail("lease", err)
		}
		if !ok {
			sleep(ctx, w.cfg.LeaseTTL/4)
			continue
		}
		log.Info("changefeed: lease acquired, streaming", "holder", w.cfg.Holder)
		err = w.leased(ctx)
		w.active.Store(false)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, errLostLease) {
			log.Warn("changefeed: lease lost; standing by")
			backoff = 50 * time.Millisecond
			continue
		}
		if errors.Is(err, ErrConfig) {
			return err
		}
		w.fail("session", err)
		sleep(ctx, backoff)
		backoff = min(2*backoff, 2*time.Second)
	}
	return nil
}

// leased runs one session while renewing the lease; the session ends when
// the lease is lost.
func (w *Watcher) leased(ctx context.Context) error {
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(w.cfg.LeaseTTL / 4)
		defer t.Stop()
		renewed := time.Now()
		for {
			select {
			case <-sctx.Done():
				return
			case <-t.C:
			}
			ok, err := w.cfg.Store.AcquireLease(sctx, LeaseName, w.cfg.Holder, w.cfg.LeaseTTL)
			switch {
			case err == nil && ok:
				renewed = time.Now()
			case err == nil:
				cancel(errLostLease)
				return
			case time.Since(renewed) > w.cfg.LeaseTTL:
				// The store is unreachable: another watcher may hold the
				// lease by now. Keep streaming (every invalidation retries
				// until the store answers, so nothing is acknowledged that
				// the store has not seen); the next renewal decides.
				w.fail("lease", err)
			}
		}
	}()
	w.active.Store(true)
	err := w.src.session(sctx, w)
	cancel(nil)
	<-done
	if c := context.Cause(sctx); errors.Is(c, errLostLease) {
		return errLostLease
	}
	return err
}

// apply invalidates the tags of one committed transaction (and the whole
// namespace when all; the schema epoch too when ddl), retrying until the
// store acknowledges or ctx ends. Only then may the caller acknowledge the
// transaction's position.
func (w *Watcher) apply(ctx context.Context, tags []string, all, ddl bool) error {
	if len(tags) == 0 && !all {
		return nil
	}
	backoff := 5 * time.Millisecond
	for {
		var err error
		if all {
			if ddl {
				err = w.cfg.Store.InvalidateTags(ctx, append([]string{SchemaTag}, w.ddlTags...)...)
			}
			if err == nil {
				err = w.cfg.Store.InvalidateAll(ctx)
			}
		} else {
			err = w.cfg.Store.InvalidateTags(ctx, tags...)
		}
		if err == nil {
			if all {
				w.invalidations.Add(1)
			} else {
				w.invalidations.Add(uint64(len(tags)))
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		w.fail("invalidate", err)
		sleep(ctx, backoff)
		backoff = min(2*backoff, time.Second)
	}
}

// schemaEpoch sets the readers' schema-epoch tag of the watched database,
// when the configuration knows how to build it.
func (w *Watcher) schemaEpoch(ctx context.Context, dialect string, q catalog.Querier) error {
	if w.cfg.SchemaTag == nil {
		return nil
	}
	name, err := catalog.Database(ctx, dialect, q)
	if err != nil {
		return fmt.Errorf("name the database for its schema epoch: %w", err)
	}
	w.ddlTags = []string{w.cfg.SchemaTag(name)}
	return nil
}

// resetNamespace invalidates everything because the stream position is new
// or was lost: changes between the old position and the new one are gone.
func (w *Watcher) resetNamespace(ctx context.Context, why string) error {
	w.cfg.Logger.Warn("changefeed: invalidating the whole namespace", "why", why)
	w.resets.Add(1)
	return w.apply(ctx, nil, true, false)
}

// beat writes the heartbeat: every transaction whose commit returned before
// t has been invalidated, and the stream is at pos.
func (w *Watcher) beat(ctx context.Context, t time.Time, pos string) error {
	v := strconv.FormatInt(t.UnixNano(), 10) + " " + pos
	if err := w.cfg.Store.SetMark(ctx, HeartbeatMark, []byte(v)); err != nil {
		w.fail("heartbeat", err)
		return err
	}
	if n := t.UnixNano(); n > w.heartbeat.Load() {
		w.heartbeat.Store(n)
	}
	w.setPosition(pos)
	return nil
}

// committed records one transaction applied: its events and its lag from
// commit to the store's acknowledgement, in parts: until the watcher read it
// from the stream, until the apply started, and the apply.
func (w *Watcher) committed(c *commit, applied, now time.Time) {
	w.txs.Add(1)
	w.events.Add(uint64(c.events))
	if !c.at.IsZero() {
		w.lags.add(now.Sub(c.at))
		w.arrivals.add(c.read.Sub(c.at))
		w.queued.add(applied.Sub(c.read))
		w.stored.add(now.Sub(applied))
	}
}

// commit is one committed transaction read from the stream, in stream order.
type commit struct {
	tags   map[string]struct{}
	rows   map[string]int // row tags added per table tag (touchRow)
	all    bool
	ddl    bool
	events int
	at     time.Time // commit time (zero when the stream does not say)
	read   time.Time // when the watcher read the commit from the stream
	beat   time.Time // a heartbeat travelled in it
	pos    string    // stream position after it
	ack    func()    // acknowledges pos to the source (nil: nothing to do)
	// MySQL: unseen is a transaction that may not be visible yet when read
	// (it ended in an XID), probe a row it changed (mysql_visible.go).
	unseen bool
	probe  *probe
}

func (c *commit) touch(tag string) {
	if c.tags == nil {
		c.tags = map[string]struct{}{}
	}
	c.tags[tag] = struct{}{}
	c.events++
}

// maxRowTags bounds the row tags one transaction invalidates in one table:
// past it, the table's tag is invalidated instead (one tag, and it covers
// every row).
const maxRowTags = 1000

// touchRow adds one changed row: its row tag and its table's set tag, or
// the table's tag once the transaction has changed more than maxRowTags
// rows of it (or has invalidated the table already).
func (c *commit) touchRow(table, set, row string) {
	if _, whole := c.tags[table]; whole {
		c.events++
		return
	}
	if c.rows == nil {
		c.rows = map[string]int{}
	}
	c.rows[table]++
	if c.rows[table] > maxRowTags {
		c.touch(table)
		return
	}
	c.touch(set)
	c.events--
	c.touch(row)
}

// drain appends to batch what in holds ready, up to maxBatch items, without
// waiting.
func drain[T any](in <-chan T, batch []T) []T {
	for len(batch) < maxBatch {
		select {
		case x := <-in:
			batch = append(batch, x)
		default:
			return batch
		}
	}
	return batch
}

// union returns the tags of the transactions of batch that only accepts
// (all of them when only is nil), and whether any of those invalidates
// everything or is DDL.
func union(batch []*commit, only func(*commit) bool) (tags []string, all, ddl bool) {
	set := map[string]struct{}{}
	for _, c := range batch {
		if only != nil && !only(c) {
			continue
		}
		for t := range c.tags {
			set[t] = struct{}{}
		}
		all, ddl = all || c.all, ddl || c.ddl
	}
	tags = make([]string, 0, len(set))
	for t := range set {
		tags = append(tags, t)
	}
	return tags, all, ddl
}

// maxBatch bounds how many queued transactions one invalidation covers.
const maxBatch = 4096

// maxInFlight bounds the invalidations under way at once. Four did not
// lower the lag under load (BenchmarkPostgresLagUnderLoad, five runs each
// on the loaded 2-core machine: p99 median 385 ms with 4, 284 ms with 1);
// a variable for that benchmark.
var maxInFlight = 1

// applyJob is one invalidation of a batch of transactions.
type applyJob struct {
	batch          []*commit
	started, ended time.Time
	done           chan struct{} // closed when the store acknowledged, or err is set
	err            error
}

// applyLoop applies committed transactions until ctx ends. Transactions
// that queue while the store answers (up to maxInFlight invalidations under
// way) are applied together, one invalidation of the union of their tags,
// so a slow store bounds the lag instead of multiplying it. Positions are
// acknowledged, and heartbeats written, in stream order by another
// goroutine, only once the store acknowledged a transaction and every
// transaction before it; the next invalidation does not wait for them.
func (w *Watcher) applyLoop(ctx context.Context, in <-chan *commit) error {
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel: nothing of this loop outlives it
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	slots := make(chan struct{}, maxInFlight)
	jobs := make(chan *applyJob, maxInFlight)
	failed := make(chan error, 1)
	wg.Go(func() {
		if err := w.acknowledge(ctx, jobs, slots); err != nil {
			failed <- err
		}
	})
	for {
		var batch []*commit
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-failed:
			return err
		case c := <-in:
			batch = append(batch, c)
		}
		// Wait for a slot, gathering what arrives meanwhile.
		for got := false; !got; {
			more := in
			if len(batch) >= maxBatch {
				more = nil
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case err := <-failed:
				return err
			case c := <-more:
				batch = append(batch, c)
			case slots <- struct{}{}:
				got = true
			}
		}
		batch = drain(in, batch)
		list, all, ddl := union(batch, nil)
		j := &applyJob{batch: batch, started: time.Now(), done: make(chan struct{})}
		jobs <- j // never blocks: at most maxInFlight jobs wait in it
		wg.Go(func() {
			j.err = w.apply(ctx, list, all, ddl)
			j.ended = time.Now()
			close(j.done)
		})
	}
}

// acknowledge takes the jobs in stream order as the store acknowledges
// them: it frees the job's slot, records its transactions, acknowledges
// its last position and writes the latest heartbeat it carried.
func (w *Watcher) acknowledge(ctx context.Context, jobs <-chan *applyJob, slots <-chan struct{}) error {
	for {
		var j *applyJob
		select {
		case <-ctx.Done():
			return ctx.Err()
		case j = <-jobs:
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-j.done:
		}
		if j.err != nil {
			return j.err
		}
		<-slots
		var beat time.Time
		for _, c := range j.batch {
			if c.events > 0 {
				w.committed(c, j.started, j.ended)
			}
			if c.beat.After(beat) {
				beat = c.beat
			}
		}
		last := j.batch[len(j.batch)-1]
		if last.ack != nil {
			last.ack()
		}
		if !beat.IsZero() {
			_ = w.beat(ctx, beat, last.pos) // a missed heartbeat only makes readers bypass
		} else {
			w.setPosition(last.pos)
		}
	}
}

func (w *Watcher) setPosition(pos string) {
	w.mu.Lock()
	w.position = pos
	w.mu.Unlock()
}

func (w *Watcher) fail(what string, err error) {
	if err == nil {
		return
	}
	w.errs.Add(1)
	w.mu.Lock()
	w.lastErr = what + ": " + err.Error()
	w.mu.Unlock()
	w.cfg.Logger.Warn("changefeed: "+what+" failed", "err", err)
}

// Stats are a Watcher's counters and state.
type Stats struct {
	Active        bool          // holds the lease and streams
	Slot          string        // PostgreSQL slot (empty for MySQL)
	Position      string        // last acknowledged stream position
	Heartbeat     time.Time     // last heartbeat written (zero: none yet)
	Events        uint64        // row changes and DDL read from committed transactions
	Transactions  uint64        // committed transactions applied
	Invalidations uint64        // tags invalidated (a whole-namespace invalidation counts one; MySQL counts both of a transaction's)
	Resets        uint64        // whole-namespace invalidations for a new or lost position
	Errors        uint64        // failures (connection, stream, store), each retried
	LastError     string        // the last failure
	LagP50        time.Duration // commit to store acknowledgement, over the last transactions
	LagP99        time.Duration
	LagMax        time.Duration
	// The lag in three parts, over the same transactions. Arrival: commit
	// to the watcher reading the commit from the stream (the database's,
	// the network's and the scheduler's share; zero for MySQL, whose binlog
	// dates commits in whole seconds). Queue: read to the start of its
	// invalidation (waiting for one of the invalidations under way to
	// finish; MySQL: of its second invalidation, after the first and the
	// proof that it is visible). Store: the invalidation, until the store acknowledged it
	// (with Redis: the script and the other processes' L1
	// acknowledgements).
	ArrivalP50, ArrivalP99, ArrivalMax time.Duration
	QueueP50, QueueP99, QueueMax       time.Duration
	StoreP50, StoreP99, StoreMax       time.Duration
}

// Stats returns the Watcher's counters.
func (w *Watcher) Stats() Stats {
	w.mu.Lock()
	s := Stats{Slot: w.slot, Position: w.position, LastError: w.lastErr}
	w.mu.Unlock()
	s.Active = w.active.Load()
	if n := w.heartbeat.Load(); n > 0 {
		s.Heartbeat = time.Unix(0, n)
	}
	s.Events, s.Transactions = w.events.Load(), w.txs.Load()
	s.Invalidations, s.Resets, s.Errors = w.invalidations.Load(), w.resets.Load(), w.errs.Load()
	s.LagP50, s.LagP99, s.LagMax = w.lags.quantiles()
	s.ArrivalP50, s.ArrivalP99, s.ArrivalMax = w.arrivals.quantiles()
	s.QueueP50, s.QueueP99, s.QueueMax = w.queued.quantiles()
	s.StoreP50, s.StoreP99, s.StoreMax = w.stored.quantiles()
	return s
}

// ParseHeartbeat reads a HeartbeatMark value.
func ParseHeartbeat(b []byte) (t time.Time, pos string, err error) {
	s, pos, _ := strings.Cut(string(b), " ")
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, "", fmt.Errorf("changefeed: malformed heartbeat %q", b)
	}
	return time.Unix(0, n), pos, nil
}

// lagRing keeps the last lags for quantiles.
type lagRing struct {
	mu  sync.Mutex
	buf []time.Duration
	n   int
	max time.Duration
}

const lagWindow = 1 << 16

func (r *lagRing) add(d time.Duration) {
	r.mu.Lock()
	if len(r.buf) < lagWindow {
		r.buf = append(r.buf, d)
	} else {
		r.buf[r.n%lagWindow] = d
	}
	r.n++
	r.max = max(r.max, d)
	r.mu.Unlock()
}

func (r *lagRing) quantiles() (p50, p99, mx time.Duration) {
	r.mu.Lock()
	s := slices.Clone(r.buf)
	mx = r.max
	r.mu.Unlock()
	if len(s) == 0 {
		return 0, 0, 0
	}
	slices.Sort(s)
	return s[len(s)/2], s[min(len(s)-1, len(s)*99/100)], mx
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
