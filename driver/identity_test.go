package driver_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "github.com/mattn/go-sqlite3"

	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/internal/testenv"
)

// The same DSN text can reach different data. Pools that share a store
// must never answer each other's reads, in one process or across processes
// through Redis; pools that reach the same database still share entries.

const idQuery = `SELECT v FROM t WHERE id = 1`

// idRead reads idQuery twice through db and returns the value and how many
// of the two reads were hits.
func idRead(t testing.TB, db *sql.DB) (string, uint64) {
	t.Helper()
	cache, err := yoked.CacheOf(db)
	if err != nil {
		t.Fatal(err)
	}
	// Reads bypass the cache until the schema catalog is read.
	if err := yoked.WaitCatalog(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	h := cache.Stats().Hits
	var v, v2 string
	if err := db.QueryRow(idQuery).Scan(&v); err != nil {
		t.Fatalf("%s: %v", idQuery, err)
	}
	if err := db.QueryRow(idQuery).Scan(&v2); err != nil {
		t.Fatalf("%s: %v", idQuery, err)
	}
	if v != v2 {
		t.Fatalf("second read %q, first %q", v2, v)
	}
	return v, cache.Stats().Hits - h
}

func execAll(t testing.TB, db *sql.DB, qs ...string) {
	t.Helper()
	for _, q := range qs {
		mustExec(t, db, q)
	}
}

// pinned keeps one connection so the pool never opens another (a
// :memory: database, environment read at connect time).
func pinned(t testing.TB, db *sql.DB) *sql.DB {
	t.Helper()
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestIdentityTwoMemorySQLiteDatabases(t *testing.T) {
	store := mustMemory(t)
	var dbs []*sql.DB
	for i, v := range []string{"one", "two"} {
		db, err := yoked.Open("sqlite3", ":memory:", yoked.WithStore(store))
		if err != nil {
			t.Fatal(err)
		}
		pinned(t, db)
		execAll(t, db, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, `INSERT INTO t VALUES (1, '`+v+`')`)
		if got, _ := idRead(t, db); got != v {
			t.Fatalf("db %d read %q, want %q", i, got, v)
		}
		dbs = append(dbs, db)
	}
	for i, want := range []string{"one", "two"} {
		// (The second DB's INSERT invalidated table t for both.)
		if got, _ := idRead(t, dbs[i]); got != want {
			t.Fatalf("db %d read %q, want %q: served another :memory: database's rows", i, got, want)
		}
	}
}

func TestIdentityRelativeSQLitePath(t *testing.T) {
	store := mustMemory(t)
	dirs := []string{t.TempDir(), t.TempDir()}
	var dbs []*sql.DB
	for i, v := range []string{"one", "two"} {
		t.Chdir(dirs[i])
		db, err := yoked.Open("sqlite3", "file:rel.db", yoked.WithStore(store))
		if err != nil {
			t.Fatal(err)
		}
		pinned(t, db)
		execAll(t, db, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, `INSERT INTO t VALUES (1, '`+v+`')`)
		dbs = append(dbs, db)
	}
	for i, want := range []string{"one", "two", "one", "two"} {
		if got, _ := idRead(t, dbs[i%2]); got != want {
			t.Fatalf("db in %s read %q, want %q", dirs[i%2], got, want)
		}
	}
	// The same file opened by another DB (same text, same directory)
	// shares the entries.
	db, err := yoked.Open("sqlite3", "file:rel.db", yoked.WithStore(store))
	if err != nil {
		t.Fatal(err)
	}
	pinned(t, db)
	if got, hits := idRead(t, db); got != "two" || hits != 2 {
		t.Fatalf("same file again: %q with %d hits, want \"two\" with 2", got, hits)
	}
}

// pgSchemas creates n schemas holding t(1, "<index>") and returns their names.
func pgSchemas(t *testing.T, n int) (base string, schemas []string) {
	t.Helper()
	base = testenv.Postgres(t)
	raw, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for i := range n {
		s := testenv.Name("yk_id_")
		execAll(t, raw, `CREATE SCHEMA `+s, `CREATE TABLE `+s+`.t (id int PRIMARY KEY, v text)`,
			fmt.Sprintf(`INSERT INTO %s.t VALUES (1, 'v%d')`, s, i))
		t.Cleanup(func() {
			raw, _ := sql.Open("pgx", base)
			defer raw.Close()
			raw.Exec(`DROP SCHEMA IF EXISTS ` + s + ` CASCADE`)
		})
		schemas = append(schemas, s)
	}
	return base, schemas
}

// keyValueDSN turns the test URL into a key=value DSN without database,
// user or options, so that the PG* environment decides them.
func keyValueDSN(t *testing.T, base string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("host=%s port=%d sslmode=disable", cfg.Host, cfg.Port)
}

func TestIdentityPostgresEnvironment(t *testing.T) {
	base, schemas := pgSchemas(t, 2)
	cfg, _ := pgx.ParseConfig(base)
	t.Setenv("PGUSER", cfg.User)
	t.Setenv("PGDATABASE", cfg.Database)
	dsn := keyValueDSN(t, base)
	store := mustMemory(t)
	var dbs []*sql.DB
	for _, s := range schemas {
		t.Setenv("PGOPTIONS", "-c search_path="+s)
		db, err := yoked.Open("pgx", dsn, yoked.WithStore(store))
		if err != nil {
			t.Fatal(err)
		}
		dbs = append(dbs, pinned(t, db))
	}
	for i := range 4 {
		if got, want := func() string { v, _ := idRead(t, dbs[i%2]); return v }(), fmt.Sprintf("v%d", i%2); got != want {
			t.Fatalf("pool %d read %q, want %q: served the other pool's rows", i%2, got, want)
		}
	}
}

// TestIdentityAcrossProcesses runs a second process that opens the same DSN
// text (or connector) through the same Redis namespace but reaches other
// data, after this process filled the cache: it must read its own rows. When
// it reaches the same data, it must be served this process's entries.
func TestIdentityAcrossProcesses(t *testing.T) {
	if os.Getenv("YK_ID_CHILD") != "" {
		t.Skip("child mode runs TestIdentityChild only")
	}
	// A generous store timeout: on a loaded machine a lookup past the 50 ms
	// default bypasses, and the hit counts below would be wrong.
	redis := "redis://" + testenv.Redis(t) + "/0?timeout=2s"
	type run struct {
		name  string
		open  func(t *testing.T) (*sql.DB, []string) // this process's DB and the child's environment
		want  string                                 // the child's value
		share bool                                   // the child must be served from this process's entries
	}
	ns := testenv.Name("yk_id_")
	opts := []yoked.Option{yoked.WithStoreURL(redis), yoked.WithNamespace(ns)}
	sqliteRun := func(t *testing.T, childDir string) (*sql.DB, []string) {
		dir := t.TempDir()
		t.Chdir(dir)
		for i, d := range []string{dir, childDir} {
			raw, err := sql.Open("sqlite3", filepath.Join(d, "rel.db"))
			if err != nil {
				t.Fatal(err)
			}
			execAll(t, raw, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, fmt.Sprintf(`INSERT INTO t VALUES (1, 'v%d')`, i))
			raw.Close()
		}
		db, err := yoked.Open("sqlite3", "file:rel.db", opts...)
		if err != nil {
			t.Fatal(err)
		}
		return pinned(t, db), []string{"YK_ID_DRIVER=sqlite3", "YK_ID_DSN=file:rel.db", "YK_ID_DIR=" + childDir}
	}
	runs := []run{
		{name: "sqlite relative path", want: "v1", open: func(t *testing.T) (*sql.DB, []string) {
			return sqliteRun(t, t.TempDir())
		}},
		{name: "sqlite same file", want: "v0", share: true, open: func(t *testing.T) (*sql.DB, []string) {
			db, env := sqliteRun(t, t.TempDir())
			wd, _ := os.Getwd()
			return db, append(env, "YK_ID_DIR="+wd)
		}},
		{name: "PG environment", want: "v1", open: func(t *testing.T) (*sql.DB, []string) {
			base, schemas := pgSchemas(t, 2)
			cfg, _ := pgx.ParseConfig(base)
			dsn := keyValueDSN(t, base)
			t.Setenv("PGUSER", cfg.User)
			t.Setenv("PGDATABASE", cfg.Database)
			t.Setenv("PGOPTIONS", "-c search_path="+schemas[0])
			db, err := yoked.Open("pgx", dsn, opts...)
			if err != nil {
				t.Fatal(err)
			}
			return pinned(t, db), []string{"YK_ID_DRIVER=pgx", "YK_ID_DSN=" + dsn, "PGOPTIONS=-c search_path=" + schemas[1]}
		}},
		{name: "pgx RegisterConnConfig", want: "v1", open: func(t *testing.T) (*sql.DB, []string) {
			base, schemas := pgSchemas(t, 2)
			cfg, _ := pgx.ParseConfig(base)
			cfg.RuntimeParams["search_path"] = schemas[0]
			name := stdlib.RegisterConnConfig(cfg)
			t.Cleanup(func() { stdlib.UnregisterConnConfig(name) })
			db, err := yoked.Open("pgx", name, opts...)
			if err != nil {
				t.Fatal(err)
			}
			return pinned(t, db), []string{"YK_ID_DRIVER=pgx-registered", "YK_ID_DSN=" + name, "YK_ID_BASE=" + base, "YK_ID_SCHEMA=" + schemas[1]}
		}},
		{name: "OpenDB same database", want: "v0", share: true, open: func(t *testing.T) (*sql.DB, []string) {
			base, schemas := pgSchemas(t, 1)
			cfg, _ := pgx.ParseConfig(base)
			cfg.RuntimeParams["search_path"] = schemas[0]
			db, err := yoked.OpenDB(stdlib.GetConnector(*cfg), opts...)
			if err != nil {
				t.Fatal(err)
			}
			return pinned(t, db), []string{"YK_ID_DRIVER=pgx-opendb", "YK_ID_BASE=" + base, "YK_ID_SCHEMA=" + schemas[0]}
		}},
		{name: "OpenDB other schema", want: "v1", open: func(t *testing.T) (*sql.DB, []string) {
			base, schemas := pgSchemas(t, 2)
			cfg, _ := pgx.ParseConfig(base)
			cfg.RuntimeParams["search_path"] = schemas[0]
			db, err := yoked.OpenDB(stdlib.GetConnector(*cfg), opts...)
			if err != nil {
				t.Fatal(err)
			}
			return pinned(t, db), []string{"YK_ID_DRIVER=pgx-opendb", "YK_ID_BASE=" + base, "YK_ID_SCHEMA=" + schemas[1]}
		}},
	}
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			db, env := r.open(t)
			if got, _ := idRead(t, db); got != "v0" {
				t.Fatalf("this process read %q, want v0", got)
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestIdentityChild$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), append(env, "YK_ID_CHILD=1", "YK_ID_STORE="+redis, "YK_ID_NS="+ns)...)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil {
				t.Fatalf("child: %v\n%s", err, out.String())
			}
			m := regexp.MustCompile(`CHILD value=(\S*) hits=(\d+)`).FindStringSubmatch(out.String())
			if m == nil {
				t.Fatalf("child said nothing:\n%s", out.String())
			}
			hits, _ := strconv.Atoi(m[2])
			if m[1] != r.want {
				t.Fatalf("child read %q, want %q (hits %d)", m[1], r.want, hits)
			}
			// Two reads: both hits when shared, only the second otherwise.
			if r.share && hits != 2 || !r.share && hits != 1 {
				t.Fatalf("child had %d hits of 2 reads; shared=%v\n%s", hits, r.share, out.String())
			}
		})
	}
}

// TestIdentityChild is the second process of TestIdentityAcrossProcesses.
func TestIdentityChild(t *testing.T) {
	if os.Getenv("YK_ID_CHILD") == "" {
		t.Skip("run by TestIdentityAcrossProcesses")
	}
	if d := os.Getenv("YK_ID_DIR"); d != "" {
		t.Chdir(d)
	}
	opts := []yoked.Option{yoked.WithStoreURL(os.Getenv("YK_ID_STORE")), yoked.WithNamespace(os.Getenv("YK_ID_NS"))}
	var db *sql.DB
	var err error
	switch drv := os.Getenv("YK_ID_DRIVER"); drv {
	case "pgx-registered", "pgx-opendb":
		cfg, perr := pgx.ParseConfig(os.Getenv("YK_ID_BASE"))
		if perr != nil {
			t.Fatal(perr)
		}
		cfg.RuntimeParams["search_path"] = os.Getenv("YK_ID_SCHEMA")
		if drv == "pgx-opendb" {
			db, err = yoked.OpenDB(stdlib.GetConnector(*cfg), opts...)
			break
		}
		// Register until the name is the parent's: names repeat across
		// processes.
		want := os.Getenv("YK_ID_DSN")
		for i := 0; i < 1000; i++ {
			if stdlib.RegisterConnConfig(cfg) == want {
				break
			}
		}
		db, err = yoked.Open("pgx", want, opts...)
	default:
		db, err = yoked.Open(drv, os.Getenv("YK_ID_DSN"), opts...)
	}
	if err != nil {
		t.Fatal(err)
	}
	pinned(t, db)
	v, hits := idRead(t, db)
	cache, _ := yoked.CacheOf(db)
	fmt.Printf("CHILD value=%s hits=%d skips=%v\n", v, hits, cache.Stats().Skips)
}

// A server that cannot say what it is (here: a SQLite base declared as
// PostgreSQL, whose identity query fails) leaves the connection
// unidentified: nothing is cached or served, writes still work, and a
// warning is logged.
func TestIdentityUnansweredMeansNoCaching(t *testing.T) {
	var logs bytes.Buffer
	path := filepath.Join(t.TempDir(), "x.db")
	db, err := yoked.Open("sqlite3", "file:"+path, yoked.WithStore(mustMemory(t)), yoked.WithDialect("postgres"),
		yoked.WithoutCatalog(), yoked.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	pinned(t, db)
	execAll(t, db, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, `INSERT INTO t VALUES (1, 'a')`)
	v, hits := idRead(t, db)
	if v != "a" || hits != 0 {
		t.Fatalf("read %q with %d hits, want \"a\" with none", v, hits)
	}
	cache, _ := yoked.CacheOf(db)
	if n := cache.Stats().Skips["unidentified"]; n < 2 {
		t.Fatalf("skips %v: want reads skipped as unidentified", cache.Stats().Skips)
	}
	if !strings.Contains(logs.String(), "cannot tell which database") {
		t.Fatalf("no warning logged:\n%s", logs.String())
	}
	// WithIdentity asserts the identity: no query, caching on.
	db2, err := yoked.Open("sqlite3", "file:"+path, yoked.WithStore(mustMemory(t)), yoked.WithDialect("postgres"),
		yoked.WithoutCatalog(), yoked.WithIdentity("x.db"))
	if err != nil {
		t.Fatal(err)
	}
	pinned(t, db2)
	if _, hits := idRead(t, db2); hits != 1 {
		t.Fatalf("WithIdentity: %d hits of 2 reads, want 1", hits)
	}
}

// MySQL: connectors of the same database share entries; another database
// (same server, same user) never answers.
func TestIdentityMySQLOpenDB(t *testing.T) {
	store := mustMemory(t)
	var dbs []*sql.DB
	for i, dsn := range []string{testenv.MySQLDatabase(t), testenv.MySQLDatabase(t)} {
		raw, err := sql.Open("mysql", dsn)
		if err != nil {
			t.Fatal(err)
		}
		execAll(t, raw, `CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))`, fmt.Sprintf(`INSERT INTO t VALUES (1, 'v%d')`, i))
		raw.Close()
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			c, err := mysql.NewConnector(cfg)
			if err != nil {
				t.Fatal(err)
			}
			db, err := yoked.OpenDB(c, yoked.WithStore(store))
			if err != nil {
				t.Fatal(err)
			}
			dbs = append(dbs, pinned(t, db))
		}
	}
	for i, db := range dbs {
		v, hits := idRead(t, db)
		if want := fmt.Sprintf("v%d", i/2); v != want {
			t.Fatalf("connector %d read %q, want %q", i, v, want)
		}
		// The second connector of each database is served the first's entry.
		if wantHits := uint64(1 + i%2); hits != wantHits {
			t.Fatalf("connector %d: %d hits of 2 reads, want %d", i, hits, wantHits)
		}
	}
}
