package orm_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log"
	"os"
	"testing"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	yoked "github.com/yokedcache/yoked/driver"
)

// entShop reads and writes through ent's SQL driver (the dialect.Driver a
// generated ent.Client runs on: ent.NewClient(ent.Driver(drv))) and ent's
// SQL builder, and says what the cache did.
func entShop(w io.Writer, drv *entsql.Driver, cache *yoked.Cache) error {
	ctx := context.Background()
	b := entsql.Dialect(drv.Dialect())
	if err := drv.Exec(ctx, `CREATE TABLE pets (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL, age INTEGER NOT NULL)`, []any{}, nil); err != nil {
		return err
	}
	ins, args := b.Insert("pets").Columns("id", "name", "age").Values(1, "rex", 3).Values(2, "tom", 5).Query()
	if err := drv.Exec(ctx, ins, args, nil); err != nil {
		return err
	}
	s := newStory(w, cache)
	get := func() error {
		q, args := b.Select("age").From(entsql.Table("pets")).Where(entsql.EQ("name", "rex")).Query()
		var rows entsql.Rows
		if err := drv.Query(ctx, q, args, &rows); err != nil {
			return err
		}
		defer rows.Close()
		var age int
		for rows.Next() {
			if err := rows.Scan(&age); err != nil {
				return err
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		s.read("rex's age", age)
		return nil
	}
	for _, step := range []func() error{get, get, func() error {
		q, args := b.Update("pets").Set("age", 4).Where(entsql.EQ("name", "rex")).Query()
		var res sql.Result
		if err := drv.Exec(ctx, q, args, &res); err != nil {
			return err
		}
		n, err := res.RowsAffected()
		s.did(fmt.Sprintf("update rex's age to 4: %d row", n))
		return err
	}, get, get, func() error {
		tx, err := drv.Tx(ctx)
		if err != nil {
			return err
		}
		q, args := b.Update("pets").Add("age", 1).Where(entsql.EQ("name", "rex")).Query()
		if err := tx.Exec(ctx, q, args, nil); err != nil {
			tx.Rollback()
			return err
		}
		s.did("transaction: rex one year older, committed")
		return tx.Commit()
	}, get, get} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// ent over yoked: entsql.OpenDB wraps the yoked *sql.DB in ent's driver,
// named by ent's dialect (dialect.SQLite, dialect.Postgres, dialect.MySQL).
func Example_ent() {
	db, cache, done := exampleDB()
	defer done()
	if err := entShop(os.Stdout, entsql.OpenDB(dialect.SQLite, db), cache); err != nil {
		log.Fatal(err)
	}
	// Output:
	// read rex's age: 3 (miss)
	// read rex's age: 3 (hit)
	// update rex's age to 4: 1 row
	// read rex's age: 4 (miss)
	// read rex's age: 4 (hit)
	// transaction: rex one year older, committed
	// read rex's age: 5 (miss)
	// read rex's age: 5 (hit)
}

func TestEntOnServers(t *testing.T) {
	sameAsExample(t, "_ent", nil, func(t *testing.T, w io.Writer, s server, db *sql.DB, cache *yoked.Cache) error {
		d := dialect.Postgres
		if s.name == "mysql" {
			d = dialect.MySQL
		}
		return entShop(w, entsql.OpenDB(d, db), cache)
	})
}
