package orm_test

import (
	"bytes"
	"database/sql"
	"fmt"
	"go/doc"
	"go/parser"
	"go/token"
	"io"
	"log"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/mattn/go-sqlite3"

	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/internal/testenv"
	"github.com/yokedcache/yoked/tagstore/memory"
)

// story prints what each step did to the cache, from its counters.
type story struct {
	w            io.Writer
	cache        *yoked.Cache
	hits, misses uint64
}

func newStory(w io.Writer, cache *yoked.Cache) *story {
	s := &story{w: w, cache: cache}
	s.mark()
	return s
}

func (s *story) mark() {
	st := s.cache.Stats()
	s.hits, s.misses = st.Hits, st.Misses
}

// read reports a read and whether the cache answered it.
func (s *story) read(what string, v any) {
	st := s.cache.Stats()
	outcome := "not cached"
	switch {
	case st.Hits > s.hits:
		outcome = "hit"
	case st.Misses > s.misses:
		outcome = "miss"
	}
	fmt.Fprintf(s.w, "read %s: %v (%s)\n", what, v, outcome)
	s.mark()
}

// did reports a step that is not a read.
func (s *story) did(what string) {
	fmt.Fprintln(s.w, what)
	s.mark()
}

// exampleDB opens a fresh SQLite file through yoked with a store of its own.
func exampleDB() (*sql.DB, *yoked.Cache, func()) {
	dir, err := os.MkdirTemp("", "yoked-orm-")
	if err != nil {
		log.Fatal(err)
	}
	db, cache := openOwnStore("sqlite3", "file:"+filepath.Join(dir, "shop.db")+"?_foreign_keys=1")
	return db, cache, func() { db.Close(); os.RemoveAll(dir) }
}

// openOwnStore opens base through yoked with a memory store of its own, so
// that the counters are this DB's alone.
func openOwnStore(base, dsn string) (*sql.DB, *yoked.Cache) {
	store, err := memory.New(nil)
	if err != nil {
		log.Fatal(err)
	}
	db, err := yoked.Open(base, dsn, yoked.WithStore(store))
	if err != nil {
		log.Fatal(err)
	}
	cache, err := yoked.CacheOf(db)
	if err != nil {
		log.Fatal(err)
	}
	return db, cache
}

// server is a database server the examples also run on.
type server struct {
	name string // "postgres" or "mysql": the dialect
	base string // the base driver
	dsn  func(t testing.TB) string
}

var servers = []server{
	{"postgres", "pgx", testenv.PostgresSchema},
	{"mysql", "mysql", testenv.MySQLDatabase},
}

// sameAsExample runs fn on every server and compares what it printed with
// the Output of the example named name (as in Example_gorm: "_gorm").
func sameAsExample(t *testing.T, name string, only []string, fn func(t *testing.T, w io.Writer, s server, db *sql.DB, cache *yoked.Cache) error) {
	want := exampleOutput(t, name)
	for _, s := range servers {
		if only != nil && !contains(only, s.name) {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			db, cache := openOwnStore(s.base, s.dsn(t))
			defer db.Close()
			var out bytes.Buffer
			if err := fn(t, &out, s, db, cache); err != nil {
				t.Fatalf("%v\noutput so far:\n%s", err, out.String())
			}
			if got := out.String(); got != want {
				t.Errorf("on %s:\n%s\nthe example on SQLite printed:\n%s", s.name, got, want)
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// exampleOutput returns the expected output of the named example of this
// package.
func exampleOutput(t *testing.T, name string) string {
	t.Helper()
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, file := range files {
		f, err := parser.ParseFile(fset, file, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, ex := range doc.Examples(f) {
			if ex.Name == name {
				return ex.Output
			}
		}
	}
	t.Fatalf("no example %q", name)
	return ""
}
