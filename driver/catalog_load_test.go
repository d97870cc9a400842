package driver_test

import (
	"bytes"
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/internal/testenv"
)

// fakeServer is a base driver whose server answers every query with one
// row of one column (as a pooler or a scripted test server might) and
// records which connection received which query. catalogWait, when set,
// makes catalog queries (pg_catalog, current_schemas) block until their
// context is done.
type fakeServer struct {
	mu          sync.Mutex
	conns       int
	queries     map[int][]string
	catalogWait bool
}

func (f *fakeServer) Connect(context.Context) (driver.Conn, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.conns++
	if f.queries == nil {
		f.queries = map[int][]string{}
	}
	return &fakeConn{f: f, id: f.conns}, nil
}

func (f *fakeServer) Driver() driver.Driver { return fakeDriver{f} }

func (f *fakeServer) on(id int) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.queries[id]...)
}

type fakeDriver struct{ f *fakeServer }

func (d fakeDriver) Open(string) (driver.Conn, error) { return d.f.Connect(context.Background()) }

type fakeConn struct {
	f  *fakeServer
	id int
}

func (c *fakeConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("fake: no prepare") }
func (c *fakeConn) Close() error                        { return nil }
func (c *fakeConn) Begin() (driver.Tx, error)           { return nil, errors.New("fake: no tx") }

func (c *fakeConn) QueryContext(ctx context.Context, q string, _ []driver.NamedValue) (driver.Rows, error) {
	c.f.mu.Lock()
	c.f.queries[c.id] = append(c.f.queries[c.id], q)
	wait := c.f.catalogWait && (strings.Contains(q, "pg_") || strings.Contains(q, "current_schemas"))
	c.f.mu.Unlock()
	if wait {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return &fakeRows{}, nil
}

func (c *fakeConn) ExecContext(ctx context.Context, q string, _ []driver.NamedValue) (driver.Result, error) {
	c.f.mu.Lock()
	c.f.queries[c.id] = append(c.f.queries[c.id], q)
	c.f.mu.Unlock()
	return driver.RowsAffected(1), nil
}

type fakeRows struct{ done bool }

func (r *fakeRows) Columns() []string { return []string{"x"} }
func (r *fakeRows) Close() error      { return nil }
func (r *fakeRows) Next(dest []driver.Value) error {
	if r.done {
		return io.EOF
	}
	r.done = true
	dest[0] = "1"
	return nil
}

// syncBuf is a log sink safe for concurrent writes.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A server that answers the catalog queries with something else: nothing
// panics, the catalog queries never run on the application's connections,
// the failure is logged, reads are not cached and writes invalidate
// everything.
func TestCatalogUnexpectedAnswerFallsBack(t *testing.T) {
	f := &fakeServer{}
	var logs syncBuf
	db, err := yoked.OpenDB(f, yoked.WithDialect("postgres"), yoked.WithStore(mustMemory(t)),
		yoked.WithIdentity(testenv.Name("fake")), yoked.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	for range 3 {
		var s string
		if err := db.QueryRowContext(ctx, `SELECT name FROM users WHERE id = 1`).Scan(&s); err != nil {
			t.Fatal(err)
		}
	}
	err = yoked.WaitCatalog(ctx, db)
	if err == nil || !strings.Contains(err.Error(), "unexpected answer") {
		t.Fatalf("WaitCatalog = %v, want the unexpected answer", err)
	}
	if !strings.Contains(logs.String(), "cannot read the schema catalog") {
		t.Errorf("no log line for the failed catalog: %q", logs.String())
	}
	for _, q := range f.on(1) {
		if strings.Contains(q, "pg_") || strings.Contains(q, "information_schema") {
			t.Errorf("catalog query on the application's connection: %s", q)
		}
	}
	c, _ := yoked.CacheOf(db)
	for range 2 {
		var s string
		if err := db.QueryRowContext(ctx, `SELECT name FROM users WHERE id = 1`).Scan(&s); err != nil {
			t.Fatal(err)
		}
	}
	st := c.Stats()
	if st.Hits != 0 || st.Skips["catalog_unavailable"] == 0 {
		t.Errorf("reads without a catalog: %+v", st)
	}
	if _, err := db.ExecContext(ctx, `UPDATE users SET name = 'x' WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	if inv := c.Stats().Invalidations; inv == 0 {
		t.Errorf("write without a catalog invalidated nothing")
	}
}

// A catalog read that hangs keeps neither Connect nor the first queries
// waiting, and a read after DDL honours the statement's context.
func TestCatalogReadOffTheQueryPath(t *testing.T) {
	f := &fakeServer{catalogWait: true}
	db, err := yoked.OpenDB(f, yoked.WithDialect("postgres"), yoked.WithStore(mustMemory(t)),
		yoked.WithIdentity(testenv.Name("fake")))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, _ := yoked.CacheOf(db)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var s string
	if err := db.QueryRowContext(ctx, `SELECT name FROM users WHERE id = 1`).Scan(&s); err != nil {
		t.Fatalf("first query waited for the catalog: %v", err)
	}
	if got := c.Stats().Skips["catalog_loading"]; got != 1 {
		t.Errorf("skips while the catalog loads: %+v", c.Stats().Skips)
	}
	// DDL re-reads the catalog through its connection, bounded by the
	// statement's context.
	short, cancelShort := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancelShort()
	if _, err := db.ExecContext(short, `CREATE TABLE t2 (id int)`); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("the catalog read after DDL ignored the statement's context")
	}
}

// Two DBs on one database in one process share one catalog: a trigger
// created through one is known to the other at once.
func TestCatalogSharedPerDatabase(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := b.open(t)
		e.str(e.db, `SELECT 'x'`) // catalog read
		other, err := yoked.Open(b.name, e.dsn, yoked.WithStore(e.cache.Store()))
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		if err := yoked.WaitCatalog(context.Background(), other); err != nil {
			t.Fatal(err)
		}
		for _, q := range triggerSQL(b, "trg_tx", `INSERT INTO audit (note) VALUES ('shared')`) {
			e.exec(e.db, q)
		}
		e.cachedCount("audit", "0")
		e.exec(other, `UPDATE users SET name = 'ann' WHERE id = 1`)
		e.want("audit after a write through the other DB", e.str(e.db, e.countQ("audit")), "1")
	})
}

// DDL through one handle makes another handle with its own catalog (as in
// another process sharing the store) stop trusting its catalog: its writes
// invalidate everything until it has read the new one, then what the new
// schema says.
func TestCatalogEpochAcrossHandles(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := b.open(t)
		e.str(e.db, `SELECT 'x'`)
		// Another declared dependency: a catalog of its own, the same
		// identity and store (like another process on the same Redis).
		other, err := yoked.Open(b.name, e.dsn, yoked.WithStore(e.cache.Store()),
			yoked.WithDependencies(map[string][]string{testenv.Name("nothing_"): {"nowhere"}}))
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		if err := yoked.WaitCatalog(context.Background(), other); err != nil {
			t.Fatal(err)
		}
		for _, q := range triggerSQL(b, "trg_tx", `INSERT INTO audit (note) VALUES ('epoch')`) {
			e.exec(e.db, q)
		}
		e.cachedCount("audit", "0")
		e.exec(other, `UPDATE users SET name = 'ann' WHERE id = 1`)
		e.want("audit after the stale handle's write", e.str(e.db, e.countQ("audit")), "1")
		if err := yoked.WaitCatalog(context.Background(), other); err != nil {
			t.Fatal(err)
		}
		e.cachedCount("audit", "1")
		e.exec(other, `UPDATE users SET name = 'bea' WHERE id = 1`)
		e.want("audit after the reloaded handle's write", e.str(e.db, e.countQ("audit")), "2")
	})
}
