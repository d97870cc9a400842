package orm_test

import (
	"database/sql"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"testing"

	gmysql "gorm.io/driver/mysql"
	gpostgres "gorm.io/driver/postgres"
	gsqlite "gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	yoked "github.com/yokedcache/yoked/driver"
)

// Product is the GORM model.
type Product struct {
	ID    uint   `gorm:"primaryKey"`
	Code  string `gorm:"size:50;uniqueIndex"`
	Price int
}

// ProductV2 is Product after a migration adds a column.
type ProductV2 struct {
	Product
	Stock int
}

func (ProductV2) TableName() string { return "products" }

// gormShop migrates, reads and writes through GORM, and says what the
// cache did.
func gormShop(w io.Writer, gdb *gorm.DB, cache *yoked.Cache) error {
	// The Migrator asks the system catalogs (sqlite_master, pg_catalog,
	// information_schema) whether tables and columns exist: yoked never
	// serves those from the cache, so it needs no SkipCache.
	m := gdb.Migrator()
	if err := m.AutoMigrate(&Product{}); err != nil {
		return err
	}
	cols, err := m.ColumnTypes(&Product{})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "migrated: table %v, %d columns\n", m.HasTable(&Product{}), len(cols))
	if err := gdb.Create(&Product{Code: "tea", Price: 10}).Error; err != nil {
		return err
	}
	s := newStory(w, cache)
	read := func() error {
		var p ProductV2
		if err := gdb.Model(&Product{}).Select("id", "code", "price").First(&p.Product, "code = ?", "tea").Error; err != nil {
			return err
		}
		s.read("price", p.Price)
		return nil
	}
	for _, step := range []func() error{read, read, func() error {
		s.did("update price to 12")
		return gdb.Model(&Product{}).Where("code = ?", "tea").Update("price", 12).Error
	}, read, read} {
		if err := step(); err != nil {
			return err
		}
	}

	// A migration through yoked: the schema change invalidates what was
	// cached of the table, and GORM's column queries see the new column.
	if err := m.AddColumn(&ProductV2{}, "Stock"); err != nil {
		return err
	}
	if cols, err = m.ColumnTypes(&ProductV2{}); err != nil {
		return err
	}
	s.did(fmt.Sprintf("migrated: added stock, %d columns", len(cols)))
	readV2 := func() error {
		var p ProductV2
		if err := gdb.First(&p, "code = ?", "tea").Error; err != nil {
			return err
		}
		s.read("price and stock", fmt.Sprint(p.Price, " ", p.Stock))
		return nil
	}
	for _, step := range []func() error{readV2, readV2, func() error {
		s.did("transaction: stock to 5, committed")
		return gdb.Transaction(func(tx *gorm.DB) error {
			return tx.Model(&ProductV2{}).Where("code = ?", "tea").Update("stock", 5).Error
		})
	}, readV2, func() error {
		s.did("transaction: stock to 0, rolled back")
		gdb.Transaction(func(tx *gorm.DB) error {
			tx.Model(&ProductV2{}).Where("code = ?", "tea").Update("stock", 0)
			return fmt.Errorf("rolled back")
		})
		return nil
	}, readV2} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// GORM over yoked: the dialector is handed the yoked *sql.DB (Conn), which
// works the same for every database (see docs/drivers.md for why this, and
// not DriverName, is the setup for PostgreSQL).
func Example_gorm() {
	db, cache, done := exampleDB()
	defer done()
	gdb, err := gorm.Open(gsqlite.New(gsqlite.Config{Conn: db}), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		log.Fatal(err)
	}
	if err := gormShop(os.Stdout, gdb, cache); err != nil {
		log.Fatal(err)
	}
	// Output:
	// migrated: table true, 3 columns
	// read price: 10 (miss)
	// read price: 10 (hit)
	// update price to 12
	// read price: 12 (miss)
	// read price: 12 (hit)
	// migrated: added stock, 4 columns
	// read price and stock: 12 0 (miss)
	// read price and stock: 12 0 (hit)
	// transaction: stock to 5, committed
	// read price and stock: 12 5 (miss)
	// transaction: stock to 0, rolled back
	// read price and stock: 12 5 (hit)
}

func TestGORMOnServers(t *testing.T) {
	sameAsExample(t, "_gorm", nil, func(t *testing.T, w io.Writer, s server, db *sql.DB, cache *yoked.Cache) error {
		var d gorm.Dialector
		switch s.name {
		case "postgres":
			d = gpostgres.New(gpostgres.Config{Conn: db})
		case "mysql":
			d = gmysql.New(gmysql.Config{Conn: db})
		}
		gdb, err := gorm.Open(d, &gorm.Config{Logger: logger.Discard})
		if err != nil {
			return err
		}
		return gormShop(w, gdb, cache)
	})
}

// TestGORMPostgresDriverName shows why docs/drivers.md hands GORM the yoked
// *sql.DB on PostgreSQL instead of DriverName "yoked+pgx": GORM's migrator
// then runs its column query as a prepared statement, which pgx caches per
// connection, and after ALTER TABLE PostgreSQL refuses the cached plan
// ("cached plan must not change result type", SQLSTATE 0A000). GORM switches
// that query to the simple protocol only for DriverName "" or "pgx". If this
// test starts failing, GORM changed and the advice can be revisited.
func TestGORMPostgresDriverName(t *testing.T) {
	dsn := servers[0].dsn(t)
	gdb, err := gorm.Open(gpostgres.New(gpostgres.Config{DriverName: "yoked+pgx", DSN: dsn}), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := gdb.DB()
	defer sqlDB.Close()
	sqlDB.SetMaxOpenConns(1) // one connection, so its statement cache is the one reused
	m := gdb.Migrator()
	if err := m.AutoMigrate(&Product{}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.ColumnTypes(&Product{}); err != nil {
		t.Fatal(err)
	}
	if err := m.AddColumn(&ProductV2{}, "Stock"); err != nil {
		t.Fatal(err)
	}
	_, err = m.ColumnTypes(&ProductV2{})
	if err == nil || !strings.Contains(err.Error(), "0A000") {
		t.Fatalf("ColumnTypes after ALTER TABLE with DriverName yoked+pgx: %v; want the cached-plan error (0A000)", err)
	}
}
