package driver_test

import (
	"database/sql"
	"errors"
	"testing"

	gmysql "gorm.io/driver/mysql"
	gpostgres "gorm.io/driver/postgres"
	gsqlite "gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/internal/testenv"
)

// product is the GORM model the tests drive.
type product struct {
	ID    uint   `gorm:"primaryKey"`
	Code  string `gorm:"size:50;uniqueIndex"`
	Price int
}

// gormDialects open GORM over yoked on each database, in a fresh schema.
var gormDialects = []struct {
	name string
	open func(t *testing.T) gorm.Dialector
}{
	{"sqlite", func(t *testing.T) gorm.Dialector {
		return gsqlite.New(gsqlite.Config{DriverName: "yoked+sqlite3", DSN: sqliteFresh(t)})
	}},
	{"postgres", func(t *testing.T) gorm.Dialector {
		return gpostgres.New(gpostgres.Config{DriverName: "yoked+pgx", DSN: testenv.PostgresSchema(t)})
	}},
	{"mysql", func(t *testing.T) gorm.Dialector {
		return gmysql.New(gmysql.Config{DriverName: "yoked+mysql", DSN: testenv.MySQLDatabase(t)})
	}},
}

// openGORM opens GORM over yoked on dialector, with its pool and cache.
func openGORM(t *testing.T, dialector gorm.Dialector) (*gorm.DB, *sql.DB, *yoked.Cache) {
	t.Helper()
	db, err := gorm.Open(dialector, &gorm.Config{TranslateError: true, Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sqlDB.Close() })
	cache, err := yoked.CacheOf(sqlDB)
	if err != nil {
		t.Fatal(err)
	}
	return db, sqlDB, cache
}

func TestGORM(t *testing.T) {
	for _, d := range gormDialects {
		t.Run(d.name, func(t *testing.T) {
			db, _, cache := openGORM(t, d.open(t))
			if err := db.AutoMigrate(&product{}); err != nil {
				t.Fatal(err)
			}
			p := product{Code: "a", Price: 10}
			if err := db.Create(&p).Error; err != nil {
				t.Fatal(err)
			}
			price := func() int {
				t.Helper()
				var got product
				if err := db.First(&got, p.ID).Error; err != nil {
					t.Fatal(err)
				}
				return got.Price
			}
			check := func(what string, want int) {
				t.Helper()
				if got := price(); got != want {
					t.Fatalf("%s: price %d, want %d", what, got, want)
				}
			}
			check("after Create", 10)
			h := cache.Stats().Hits
			check("cached", 10)
			if cache.Stats().Hits != h+1 {
				t.Fatalf("second First was not a cache hit: %+v", cache.Stats())
			}

			p.Price = 11
			if err := db.Save(&p).Error; err != nil {
				t.Fatal(err)
			}
			check("after Save", 11)
			if err := db.Model(&p).Update("price", 12).Error; err != nil {
				t.Fatal(err)
			}
			check("after Update", 12)

			if err := db.Transaction(func(tx *gorm.DB) error {
				if err := tx.Model(&product{}).Where("id = ?", p.ID).Update("price", 13).Error; err != nil {
					return err
				}
				var in product
				if err := tx.First(&in, p.ID).Error; err != nil || in.Price != 13 {
					t.Errorf("read in transaction: %d %v", in.Price, err)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			check("after committed Transaction", 13)
			errAbort := errors.New("abort")
			if err := db.Transaction(func(tx *gorm.DB) error {
				if err := tx.Model(&product{}).Where("id = ?", p.ID).Update("price", 99).Error; err != nil {
					return err
				}
				return errAbort
			}); !errors.Is(err, errAbort) {
				t.Fatalf("Transaction returned %v", err)
			}
			check("after rolled-back Transaction", 13)

			// GORM's error translation sees the base driver's error.
			dup := product{Code: "a", Price: 1}
			if err := db.Create(&dup).Error; !errors.Is(err, gorm.ErrDuplicatedKey) {
				t.Fatalf("duplicate Create: %v, want gorm.ErrDuplicatedKey", err)
			}

			if err := db.Delete(&product{}, p.ID).Error; err != nil {
				t.Fatal(err)
			}
			var gone product
			if err := db.First(&gone, p.ID).Error; !errors.Is(err, gorm.ErrRecordNotFound) {
				t.Fatalf("First after Delete: %v, want ErrRecordNotFound", err)
			}
		})
	}
}

// scratch is a second model, dropped by TestGORMDropTableKeepsCaching.
type scratch struct {
	ID   uint `gorm:"primaryKey"`
	Note string
}

// GORM's Migrator().DropTable sends SET FOREIGN_KEY_CHECKS on MySQL and
// PRAGMA foreign_keys on SQLite: the pooled connection must keep caching
// afterwards.
func TestGORMDropTableKeepsCaching(t *testing.T) {
	for _, d := range gormDialects {
		t.Run(d.name, func(t *testing.T) {
			db, sqlDB, cache := openGORM(t, d.open(t))
			sqlDB.SetMaxOpenConns(1) // the migrator's connection is the one that reads next
			if err := db.AutoMigrate(&product{}, &scratch{}); err != nil {
				t.Fatal(err)
			}
			p := product{Code: "a", Price: 10}
			if err := db.Create(&p).Error; err != nil {
				t.Fatal(err)
			}
			if err := db.Migrator().DropTable(&scratch{}); err != nil {
				t.Fatal(err)
			}
			if db.Migrator().HasTable(&scratch{}) {
				t.Fatal("HasTable after DropTable: the catalog read was served from the cache")
			}
			var got product
			for range 2 {
				if err := db.First(&got, p.ID).Error; err != nil || got.Price != 10 {
					t.Fatalf("First: %+v %v", got, err)
				}
			}
			h := cache.Stats().Hits
			if err := db.First(&got, p.ID).Error; err != nil {
				t.Fatal(err)
			}
			if s := cache.Stats(); s.Hits != h+1 {
				t.Fatalf("First after DropTable was not a hit: skips %v", s.Skips)
			}
		})
	}
}
