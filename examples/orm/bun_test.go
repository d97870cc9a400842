package orm_test

import (
	"context"
	"database/sql"
	"io"
	"log"
	"os"
	"testing"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/mysqldialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/schema"

	yoked "github.com/yokedcache/yoked/driver"
)

// Book is the bun model.
type Book struct {
	bun.BaseModel `bun:"table:books"`
	ID            int64  `bun:"id,pk"`
	Title         string `bun:"title,notnull"`
	Stock         int    `bun:"stock,notnull"`
}

// bunShop reads and writes through bun, and says what the cache did.
func bunShop(w io.Writer, bdb *bun.DB, cache *yoked.Cache) error {
	ctx := context.Background()
	if _, err := bdb.NewCreateTable().Model((*Book)(nil)).Exec(ctx); err != nil {
		return err
	}
	books := []Book{{ID: 1, Title: "Dune", Stock: 2}, {ID: 2, Title: "Emma", Stock: 7}}
	if _, err := bdb.NewInsert().Model(&books).Exec(ctx); err != nil {
		return err
	}
	s := newStory(w, cache)
	get := func() error {
		var b Book
		if err := bdb.NewSelect().Model(&b).Where("title = ?", "Dune").Scan(ctx); err != nil {
			return err
		}
		s.read("Dune's stock", b.Stock)
		return nil
	}
	count := func() error {
		n, err := bdb.NewSelect().Model((*Book)(nil)).Where("stock > ?", 0).Count(ctx)
		if err != nil {
			return err
		}
		s.read("books in stock", n)
		return nil
	}
	for _, step := range []func() error{get, get, count, count, func() error {
		s.did("update Dune's stock to 0")
		_, err := bdb.NewUpdate().Model((*Book)(nil)).Set("stock = ?", 0).Where("title = ?", "Dune").Exec(ctx)
		return err
	}, get, get, count, func() error {
		s.did("transaction: delete Emma, committed")
		return bdb.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			_, err := tx.NewDelete().Model((*Book)(nil)).Where("title = ?", "Emma").Exec(ctx)
			return err
		})
	}, count, count} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// bun over yoked: bun.NewDB wraps the yoked *sql.DB with the database's
// dialect.
func Example_bun() {
	db, cache, done := exampleDB()
	defer done()
	if err := bunShop(os.Stdout, bun.NewDB(db, sqlitedialect.New()), cache); err != nil {
		log.Fatal(err)
	}
	// Output:
	// read Dune's stock: 2 (miss)
	// read Dune's stock: 2 (hit)
	// read books in stock: 2 (miss)
	// read books in stock: 2 (hit)
	// update Dune's stock to 0
	// read Dune's stock: 0 (miss)
	// read Dune's stock: 0 (hit)
	// read books in stock: 1 (miss)
	// transaction: delete Emma, committed
	// read books in stock: 0 (miss)
	// read books in stock: 0 (hit)
}

func TestBunOnServers(t *testing.T) {
	sameAsExample(t, "_bun", nil, func(t *testing.T, w io.Writer, s server, db *sql.DB, cache *yoked.Cache) error {
		var d schema.Dialect = pgdialect.New()
		if s.name == "mysql" {
			d = mysqldialect.New()
		}
		return bunShop(w, bun.NewDB(db, d), cache)
	})
}
