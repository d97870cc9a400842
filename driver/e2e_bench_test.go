package driver_test

import (
	"context"
	"database/sql"
	"testing"

	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/internal/testenv"
)

// pgBenchDBs opens a fresh PostgreSQL schema through pgx, raw and through
// yoked (own memory store), after running setup through raw.
func pgBenchDBs(b *testing.B, setup ...string) (raw, cached *sql.DB) {
	b.Helper()
	dsn := testenv.PostgresSchema(b)
	raw, err := sql.Open("pgx", dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { raw.Close() })
	for _, q := range setup {
		if _, err := raw.Exec(q); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
	cached, err = yoked.Open("pgx", dsn, yoked.WithStore(mustMemory(b)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cached.Close() })
	return raw, cached
}

// BenchmarkPostgresPKSelect: a 1-row primary-key SELECT through pgx, raw,
// as a yoked hit (memory store) and as a yoked miss (Refresh: the query runs
// and its result is recorded and stored every time).
func BenchmarkPostgresPKSelect(b *testing.B) {
	setup := []string{
		`CREATE TABLE users (id bigint PRIMARY KEY, name text, score double precision)`,
		`INSERT INTO users SELECT g, 'user' || g, g * 1.5 FROM generate_series(1, 1000) g`,
	}
	run := func(b *testing.B, db *sql.DB, ctx context.Context) {
		var (
			name  string
			score float64
		)
		b.ReportAllocs()
		for b.Loop() {
			if err := db.QueryRowContext(ctx, `SELECT name, score FROM users WHERE id = $1`, 42).Scan(&name, &score); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("raw", func(b *testing.B) {
		raw, _ := pgBenchDBs(b, setup...)
		run(b, raw, context.Background())
	})
	b.Run("hit", func(b *testing.B) {
		_, db := pgBenchDBs(b, setup...)
		run(b, db, context.Background())
	})
	b.Run("miss", func(b *testing.B) {
		_, db := pgBenchDBs(b, setup...)
		run(b, db, yoked.Refresh(context.Background()))
	})
	b.Run("bypass", func(b *testing.B) {
		_, db := pgBenchDBs(b, setup...)
		run(b, db, yoked.SkipCache(context.Background()))
	})
}

// BenchmarkPostgresJoinAggregate: a join and GROUP BY over 100k rows, raw
// and as a yoked hit.
func BenchmarkPostgresJoinAggregate(b *testing.B) {
	setup := []string{
		`CREATE TABLE dim (id int PRIMARY KEY, name text)`,
		`INSERT INTO dim SELECT g, 'group' || g FROM generate_series(1, 100) g`,
		`CREATE TABLE facts (id int PRIMARY KEY, dim_id int REFERENCES dim (id), v bigint)`,
		`INSERT INTO facts SELECT g, 1 + g % 100, g FROM generate_series(1, 100000) g`,
		`ANALYZE dim`, `ANALYZE facts`,
	}
	q := `SELECT d.name, count(*), sum(f.v) FROM facts f JOIN dim d ON d.id = f.dim_id GROUP BY d.name ORDER BY d.name`
	run := func(b *testing.B, db *sql.DB) {
		var (
			name string
			n, s int64
		)
		b.ReportAllocs()
		for b.Loop() {
			rows, err := db.Query(q)
			if err != nil {
				b.Fatal(err)
			}
			for rows.Next() {
				if err := rows.Scan(&name, &n, &s); err != nil {
					b.Fatal(err)
				}
			}
			if err := rows.Close(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("raw", func(b *testing.B) {
		raw, _ := pgBenchDBs(b, setup...)
		run(b, raw)
	})
	b.Run("hit", func(b *testing.B) {
		_, db := pgBenchDBs(b, setup...)
		run(b, db)
	})
}

// BenchmarkPostgresWriteCommit: BEGIN, one UPDATE, COMMIT, raw and through
// yoked (which invalidates the table after the commit), with a cached read
// of the table present so that the invalidation has work to do.
func BenchmarkPostgresWriteCommit(b *testing.B) {
	setup := []string{
		`CREATE TABLE counters (id int PRIMARY KEY, n bigint)`,
		`INSERT INTO counters VALUES (1, 0)`,
	}
	run := func(b *testing.B, db *sql.DB) {
		var n int64
		if err := db.QueryRow(`SELECT n FROM counters WHERE id = 1`).Scan(&n); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			tx, err := db.Begin()
			if err != nil {
				b.Fatal(err)
			}
			if _, err := tx.Exec(`UPDATE counters SET n = n + 1 WHERE id = 1`); err != nil {
				b.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("raw", func(b *testing.B) {
		raw, _ := pgBenchDBs(b, setup...)
		run(b, raw)
	})
	b.Run("yoked", func(b *testing.B) {
		_, db := pgBenchDBs(b, setup...)
		run(b, db)
	})
}
