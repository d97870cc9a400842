package driver_test

import (
	"database/sql"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/internal/testenv"
)

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// blackHole returns a loopback address that accepts connections and never
// answers on them.
func blackHole(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

// With Redis refusing connections or never answering, yoked fails open:
// no read or write waits much longer than the store timeout, and once the
// breaker is open yoked adds next to nothing. The figures are logged for
// docs/benchmarks.md; the bounds asserted are loose (a loaded machine),
// the targets are the logged medians.
func TestFailOpenWithoutStalls(t *testing.T) {
	const timeout = 50 * time.Millisecond
	for _, c := range []struct {
		name string
		addr func(*testing.T) string
	}{{"refused", closedPort}, {"black-holed", blackHole}} {
		t.Run(c.name, func(t *testing.T) {
			dsn := filepath.Join(t.TempDir(), "f.db")
			raw, err := sql.Open("sqlite3", dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			if _, err := raw.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)`); err != nil {
				t.Fatal(err)
			}
			if _, err := raw.Exec(`INSERT INTO t VALUES (1, 0)`); err != nil {
				t.Fatal(err)
			}
			db, err := yoked.Open("sqlite3", dsn, yoked.WithStoreURL("redis://"+c.addr(t)+"/0?timeout="+timeout.String()),
				yoked.WithNamespace(testenv.Name("fo")))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			db.SetMaxOpenConns(1)
			raw.SetMaxOpenConns(1)
			op := func(db *sql.DB, i int) (time.Duration, error) {
				start := time.Now()
				var err error
				if i%2 == 0 {
					var v int
					err = db.QueryRow(`SELECT v FROM t WHERE id = 1`).Scan(&v)
				} else {
					_, err = db.Exec(`UPDATE t SET v = v + 1 WHERE id = 1`)
				}
				return time.Since(start), err
			}
			const n = 200
			var first, later, base []time.Duration
			var worst time.Duration
			for i := range n {
				d, err := op(db, i)
				if err != nil {
					t.Fatalf("op %d: %v", i, err)
				}
				worst = max(worst, d)
				if d > timeout+10*time.Millisecond {
					t.Logf("op %d took %v", i, d)
				}
				if i < 20 {
					first = append(first, d)
				} else {
					later = append(later, d)
				}
				b, err := op(raw, i)
				if err != nil {
					t.Fatal(err)
				}
				if i >= 20 {
					base = append(base, b)
				}
			}
			med := func(ds []time.Duration) time.Duration {
				ds = slices.Clone(ds)
				slices.Sort(ds)
				return ds[len(ds)/2]
			}
			t.Logf("%s: first 20 ops median %v max %v; later ops median %v (raw SQLite %v, added %v); worst %v",
				c.name, med(first), slices.Max(first), med(later), med(base), med(later)-med(base), worst)
			// Loose, for a loaded machine under the race detector; the stalls
			// this guards against were about 1s each.
			if worst > 15*timeout {
				t.Errorf("an operation took %v with a store timeout of %v", worst, timeout)
			}
			if added := med(later) - med(base); added > 10*time.Millisecond {
				t.Errorf("with the breaker open yoked adds %v per operation (median)", added)
			}
		})
	}
}
