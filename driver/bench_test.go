package driver_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"io"
	"path/filepath"
	"testing"

	_ "github.com/mattn/go-sqlite3"

	yoked "github.com/yokedcache/yoked/driver"
)

// noopDriver answers every query with one row (1, "ada") without doing any
// work: database/sql's own cost, the floor any driver pays.
type noopDriver struct{}
type noopConn struct{}
type noopRows struct{ done bool }

func (noopDriver) Open(string) (driver.Conn, error)  { return noopConn{}, nil }
func (noopConn) Prepare(string) (driver.Stmt, error) { return nil, driver.ErrSkip }
func (noopConn) Close() error                        { return nil }
func (noopConn) Begin() (driver.Tx, error)           { return nil, driver.ErrSkip }
func (noopConn) QueryContext(context.Context, string, []driver.NamedValue) (driver.Rows, error) {
	return &noopRows{}, nil
}
func (*noopRows) Columns() []string { return []string{"id", "name"} }
func (*noopRows) Close() error      { return nil }
func (r *noopRows) Next(dest []driver.Value) error {
	if r.done {
		return io.EOF
	}
	r.done = true
	dest[0], dest[1] = int64(1), "ada"
	return nil
}

func init() { sql.Register("yoked-test-noop", noopDriver{}) }

const pkQuery = `SELECT id, name FROM users WHERE id = ?`

func benchDBs(b *testing.B) (raw, cached *sql.DB) {
	dir := b.TempDir()
	dsn := "file:" + filepath.Join(dir, "bench.db") + "?_journal_mode=WAL"
	raw, err := sql.Open("sqlite3", dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { raw.Close() })
	if _, err := raw.Exec(`CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)`); err != nil {
		b.Fatal(err)
	}
	if _, err := raw.Exec(`INSERT INTO users VALUES (1, 'ada'), (2, 'bob')`); err != nil {
		b.Fatal(err)
	}
	store := mustMemory(b)
	cached, err = yoked.Open("sqlite3", dsn, yoked.WithStore(store))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cached.Close() })
	return raw, cached
}

func benchQueryRow(b *testing.B, db *sql.DB) {
	var id int64
	var name string
	b.ReportAllocs()
	for b.Loop() {
		if err := db.QueryRow(pkQuery, 1).Scan(&id, &name); err != nil {
			b.Fatal(err)
		}
	}
}

func benchQueryLoop(b *testing.B, db *sql.DB) {
	var id int64
	var name string
	b.ReportAllocs()
	for b.Loop() {
		rows, err := db.Query(pkQuery, 1)
		if err != nil {
			b.Fatal(err)
		}
		for rows.Next() {
			if err := rows.Scan(&id, &name); err != nil {
				b.Fatal(err)
			}
		}
		rows.Close()
	}
}

// BenchmarkPKSelect compares a 1-row primary-key SELECT: the database/sql
// floor (a no-op driver), raw go-sqlite3, a yoked hit and a yoked miss.
func BenchmarkPKSelect(b *testing.B) {
	b.Run("floor/QueryRow", func(b *testing.B) {
		db, _ := sql.Open("yoked-test-noop", "")
		defer db.Close()
		benchQueryRow(b, db)
	})
	b.Run("floor/Query", func(b *testing.B) {
		db, _ := sql.Open("yoked-test-noop", "")
		defer db.Close()
		benchQueryLoop(b, db)
	})
	b.Run("raw/QueryRow", func(b *testing.B) {
		raw, _ := benchDBs(b)
		benchQueryRow(b, raw)
	})
	b.Run("raw/Query", func(b *testing.B) {
		raw, _ := benchDBs(b)
		benchQueryLoop(b, raw)
	})
	b.Run("hit/QueryRow", func(b *testing.B) {
		_, db := benchDBs(b)
		benchQueryRow(b, db)
	})
	b.Run("hit/Query", func(b *testing.B) {
		_, db := benchDBs(b)
		benchQueryLoop(b, db)
	})
	b.Run("miss/QueryRow", func(b *testing.B) {
		_, db := benchDBs(b)
		ctx := yoked.Refresh(context.Background())
		var id int64
		var name string
		b.ReportAllocs()
		for b.Loop() {
			if err := db.QueryRowContext(ctx, pkQuery, 1).Scan(&id, &name); err != nil {
				b.Fatal(err)
			}
		}
	})
}
