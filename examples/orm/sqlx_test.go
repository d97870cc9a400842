package orm_test

import (
	"database/sql"
	"fmt"
	"io"
	"log"
	"os"
	"testing"

	"github.com/jmoiron/sqlx"

	yoked "github.com/yokedcache/yoked/driver"
)

// sqlxShop reads and writes through sqlx, and says what the cache did.
func sqlxShop(w io.Writer, db *sqlx.DB, cache *yoked.Cache) error {
	for _, q := range []string{
		`CREATE TABLE items (id INTEGER PRIMARY KEY, code VARCHAR(50) NOT NULL, price INTEGER NOT NULL)`,
		`INSERT INTO items (id, code, price) VALUES (1, 'tea', 10), (2, 'coffee', 20)`,
	} {
		if _, err := db.Exec(q); err != nil {
			return err
		}
	}
	type item struct {
		ID    int    `db:"id"`
		Code  string `db:"code"`
		Price int    `db:"price"`
	}
	s := newStory(w, cache)
	// Rebind turns ? into the database's placeholders ($1 on PostgreSQL).
	getQ := db.Rebind(`SELECT id, code, price FROM items WHERE code = ?`)
	get := func() error {
		var it item
		if err := db.Get(&it, getQ, "tea"); err != nil {
			return err
		}
		s.read("tea", it.Price)
		return nil
	}
	list := func() error {
		var all []item
		if err := db.Select(&all, `SELECT id, code, price FROM items ORDER BY id`); err != nil {
			return err
		}
		s.read("all", fmt.Sprint(len(all), " items"))
		return nil
	}
	for _, step := range []func() error{get, get, list, list, func() error {
		s.did("named update: tea to 11")
		_, err := db.NamedExec(`UPDATE items SET price = :price WHERE code = :code`, item{Code: "tea", Price: 11})
		return err
	}, get, get, list, func() error {
		s.did("transaction: insert cake, committed")
		tx, err := db.Beginx()
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.Exec(tx.Rebind(`INSERT INTO items (id, code, price) VALUES (?, ?, ?)`), 3, "cake", 30); err != nil {
			return err
		}
		return tx.Commit()
	}, list, list} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// sqlx over yoked: sqlx picks its placeholder style by driver name, so the
// yoked names are bound once (sqlx.BindDriver); sqlx.NewDb wraps a DB opened
// with options, sqlx.Open one opened by name.
func Example_sqlx() {
	sqlx.BindDriver("yoked+sqlite3", sqlx.QUESTION)
	db, cache, done := exampleDB()
	defer done()
	if err := sqlxShop(os.Stdout, sqlx.NewDb(db, "yoked+sqlite3"), cache); err != nil {
		log.Fatal(err)
	}
	// Output:
	// read tea: 10 (miss)
	// read tea: 10 (hit)
	// read all: 2 items (miss)
	// read all: 2 items (hit)
	// named update: tea to 11
	// read tea: 11 (miss)
	// read tea: 11 (hit)
	// read all: 2 items (miss)
	// transaction: insert cake, committed
	// read all: 3 items (miss)
	// read all: 3 items (hit)
}

func TestSqlxOnServers(t *testing.T) {
	sqlx.BindDriver("yoked+pgx", sqlx.DOLLAR)
	sqlx.BindDriver("yoked+mysql", sqlx.QUESTION)
	sameAsExample(t, "_sqlx", nil, func(t *testing.T, w io.Writer, s server, db *sql.DB, cache *yoked.Cache) error {
		return sqlxShop(w, sqlx.NewDb(db, "yoked+"+s.base), cache)
	})
}
