//lint:file-ignore SA1019 these tests check that the legacy Execer and Queryer of a base driver are offered through yoked

package driver_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"testing"

	"github.com/go-sql-driver/mysql"

	yoked "github.com/yokedcache/yoked/driver"
)

// TestLegacyConnInterfaces checks that the connection sql.Conn.Raw hands out
// offers driver.Execer and driver.Queryer exactly when the base connection
// does, and that they go through the cache and its invalidation.
func TestLegacyConnInterfaces(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			dsn := b.fresh(t)
			raw, err := sql.Open(b.name, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			db, err := sql.Open("yoked+"+b.name, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			ctx := context.Background()
			if _, err := db.ExecContext(ctx, `CREATE TABLE legacy (id INT PRIMARY KEY, v INT)`); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO legacy VALUES (1, 10)`); err != nil {
				t.Fatal(err)
			}
			type ifaces struct{ execer, queryer bool }
			have := func(db *sql.DB) (got ifaces) {
				c, err := db.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				c.Raw(func(dc any) error {
					_, got.execer = dc.(driver.Execer)   //nolint:staticcheck
					_, got.queryer = dc.(driver.Queryer) //nolint:staticcheck
					return nil
				})
				return got
			}
			want, got := have(raw), have(db)
			if got != want {
				t.Fatalf("through yoked: %+v, base: %+v", got, want)
			}
			if !got.execer || !got.queryer {
				return // nothing more to drive (pgx)
			}
			cache, err := yoked.CacheOf(db)
			if err != nil {
				t.Fatal(err)
			}
			c, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			read := func(dc any) int64 {
				t.Helper()
				rows, err := dc.(driver.Queryer).Query(`SELECT v FROM legacy WHERE id = 1`, nil) //nolint:staticcheck
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				vals := make([]driver.Value, 1)
				if err := rows.Next(vals); err != nil {
					t.Fatal(err)
				}
				switch v := vals[0].(type) {
				case int64:
					return v
				case []byte: // MySQL's text protocol
					var n int64
					for _, d := range v {
						n = n*10 + int64(d-'0')
					}
					return n
				}
				t.Fatalf("value %T %v", vals[0], vals[0])
				return 0
			}
			err = c.Raw(func(dc any) error {
				if v := read(dc); v != 10 {
					t.Fatalf("first read %d", v)
				}
				h := cache.Stats().Hits
				if v := read(dc); v != 10 || cache.Stats().Hits != h+1 {
					t.Fatalf("second read %d, hits %d -> %d: want a hit", v, h, cache.Stats().Hits)
				}
				res, err := dc.(driver.Execer).Exec(`UPDATE legacy SET v = 11 WHERE id = 1`, nil) //nolint:staticcheck
				if err != nil {
					return err
				}
				if n, err := res.RowsAffected(); err != nil || n != 1 {
					t.Fatalf("RowsAffected %d, %v", n, err)
				}
				if v := read(dc); v != 11 {
					t.Fatalf("read after the legacy Exec: %d, want 11", v)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestLegacyExecMultipleResults is go-sql-driver/mysql's own check: a
// multi-statement Exec through the legacy interface returns the driver's
// Result with every statement's counts.
func TestLegacyExecMultipleResults(t *testing.T) {
	var b backend
	for _, x := range backends {
		if x.name == "mysql" {
			b = x
		}
	}
	db, err := sql.Open("yoked+mysql", b.fresh(t)+"&multiStatements=true")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE multi (id INT AUTO_INCREMENT PRIMARY KEY, v INT)`); err != nil {
		t.Fatal(err)
	}
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Raw(func(dc any) error {
		res, err := dc.(driver.Execer).Exec(`INSERT INTO multi (v) VALUES (1), (2); INSERT INTO multi (v) VALUES (3)`, nil) //nolint:staticcheck
		if err != nil {
			return err
		}
		mres, ok := res.(mysql.Result)
		if !ok {
			t.Fatalf("result %T is not mysql.Result", res)
		}
		if got := mres.AllRowsAffected(); len(got) != 2 || got[0] != 2 || got[1] != 1 {
			t.Fatalf("AllRowsAffected %v, want [2 1]", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
