package orm_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log"
	"os"
	"testing"

	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/examples/orm/sqlcshop"
)

// sqlcShop runs sqlc-shaped generated queries, and says what the cache did.
func sqlcShop(w io.Writer, db *sql.DB, cache *yoked.Cache) error {
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE authors (id BIGINT PRIMARY KEY, name TEXT NOT NULL, bio TEXT)`); err != nil {
		return err
	}
	q := sqlcshop.New(db)
	for i, name := range []string{"Ada", "Alan"} {
		if err := q.CreateAuthor(ctx, sqlcshop.CreateAuthorParams{ID: int64(i + 1), Name: name}); err != nil {
			return err
		}
	}
	s := newStory(w, cache)
	get := func() error {
		a, err := q.GetAuthor(ctx, 1)
		if err != nil {
			return err
		}
		s.read("author 1 bio", fmt.Sprintf("%q", a.Bio.String))
		return nil
	}
	list := func() error {
		all, err := q.ListAuthors(ctx)
		if err != nil {
			return err
		}
		s.read("authors", len(all))
		return nil
	}
	for _, step := range []func() error{get, get, list, list, func() error {
		n, err := q.UpdateAuthorBio(ctx, sqlcshop.UpdateAuthorBioParams{Bio: sql.NullString{String: "engines", Valid: true}, ID: 1})
		s.did(fmt.Sprintf("update bio: %d row", n))
		return err
	}, get, get, list, func() error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if err := q.WithTx(tx).CreateAuthor(ctx, sqlcshop.CreateAuthorParams{ID: 3, Name: "Grace"}); err != nil {
			return err
		}
		s.did("transaction: create author 3, committed")
		return tx.Commit()
	}, list, list} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// sqlc-generated code over yoked: New takes the yoked *sql.DB (its DBTX), and
// WithTx a transaction of it. The queries are sqlc's PostgreSQL ones ($1
// placeholders; go-sqlite3 accepts them too, because query.sql numbers them
// in the order they appear: SQLite numbers $N parameters by appearance).
func Example_sqlc() {
	db, cache, done := exampleDB()
	defer done()
	if err := sqlcShop(os.Stdout, db, cache); err != nil {
		log.Fatal(err)
	}
	// Output:
	// read author 1 bio: "" (miss)
	// read author 1 bio: "" (hit)
	// read authors: 2 (miss)
	// read authors: 2 (hit)
	// update bio: 1 row
	// read author 1 bio: "engines" (miss)
	// read author 1 bio: "engines" (hit)
	// read authors: 2 (miss)
	// transaction: create author 3, committed
	// read authors: 3 (miss)
	// read authors: 3 (hit)
}

func TestSqlcOnServers(t *testing.T) {
	// sqlc generates per engine; sqlcshop is the PostgreSQL engine's shape.
	sameAsExample(t, "_sqlc", []string{"postgres"}, func(t *testing.T, w io.Writer, s server, db *sql.DB, cache *yoked.Cache) error {
		return sqlcShop(w, db, cache)
	})
}
