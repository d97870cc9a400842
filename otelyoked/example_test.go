package otelyoked_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/XSAM/otelsql"
	"github.com/mattn/go-sqlite3"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/otelyoked"
	_ "github.com/yokedcache/yoked/sqlparse/sqlite" // the parser of the dialect
)

// fill creates table t and reads row 1 twice under a span called request.
func fill(db *sql.DB, tp *sdktrace.TracerProvider) {
	for _, q := range []string{`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, `INSERT INTO t VALUES (1, 'a')`} {
		if _, err := db.Exec(q); err != nil {
			log.Fatal(err)
		}
	}
	ctx, span := tp.Tracer("app").Start(context.Background(), "request")
	defer span.End()
	for range 2 {
		var v string
		if err := db.QueryRowContext(ctx, `SELECT v FROM t WHERE id = ?`, 1).Scan(&v); err != nil {
			log.Fatal(err)
		}
	}
}

// otelsql wraps yoked: otelsql's query span is the caller's span when yoked
// decides, so the decision lands on it. A hit still has its query span,
// which then times the cache.
func Example_otelsqlAroundYoked() {
	dir, _ := os.MkdirTemp("", "otelyoked")
	defer os.RemoveAll(dir)
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))

	connector, err := yoked.Wrap(&sqlite3.SQLiteDriver{}, yoked.WithObserver(otelyoked.NewObserver())).
		OpenConnector("file:" + filepath.Join(dir, "app.db"))
	if err != nil {
		log.Fatal(err)
	}
	db := otelsql.OpenDB(connector, otelsql.WithTracerProvider(tp))
	defer db.Close()
	fill(db, tp)

	for _, s := range exp.GetSpans() {
		for _, kv := range s.Attributes {
			if kv.Key == otelyoked.OutcomeKey {
				fmt.Println(s.Name, kv.Value.String())
			}
		}
	}
	// Output:
	// sql.conn.query miss
	// sql.conn.query hit
}

// yoked wraps otelsql: the decision lands on the application's span, and
// only the miss reaches otelsql, so only the miss has a query span.
func Example_yokedAroundOtelsql() {
	dir, _ := os.MkdirTemp("", "otelyoked")
	defer os.RemoveAll(dir)
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))

	base := otelsql.WrapDriver(&sqlite3.SQLiteDriver{}, otelsql.WithTracerProvider(tp))
	connector, err := yoked.Wrap(base, yoked.WithDialect("sqlite"), yoked.WithObserver(otelyoked.NewObserver())).
		OpenConnector("file:" + filepath.Join(dir, "app.db"))
	if err != nil {
		log.Fatal(err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	fill(db, tp)

	for _, s := range exp.GetSpans() {
		if s.Name == "request" {
			for _, ev := range s.Events {
				fmt.Println(s.Name, ev.Name, ev.Attributes[0].Value.String())
			}
		} else if s.Parent.IsValid() && s.Name == "sql.conn.query" {
			fmt.Println(s.Name)
		}
	}
	// Output:
	// sql.conn.query
	// request yoked.read miss
	// request yoked.read hit
}
