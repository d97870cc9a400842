package driver_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"sync"
	"testing"

	"github.com/DATA-DOG/go-sqlmock"

	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/tagstore"
)

// These tests use go-sqlmock because what they check is the exact sequence
// of calls yoked makes to the base driver.

var registerMock sync.Once

// recStore records, for each invalidation, whether every base call the
// mock expected had already happened at that moment.
type recStore struct {
	tagstore.Store
	mock sqlmock.Sqlmock
	mu   sync.Mutex
	inv  []bool // ExpectationsWereMet()==nil at each InvalidateTags
}

func (s *recStore) InvalidateTags(ctx context.Context, tags ...string) error {
	s.mu.Lock()
	s.inv = append(s.inv, s.mock.ExpectationsWereMet() == nil)
	s.mu.Unlock()
	return s.Store.InvalidateTags(ctx, tags...)
}

func openMock(t *testing.T, opts ...func(*sqlmockOpts)) (*sql.DB, sqlmock.Sqlmock, *recStore) {
	t.Helper()
	registerMock.Do(func() {
		yoked.Register("sqlmock", yoked.WithDialect("sqlite"), yoked.WithoutCatalog(), yoked.WithIdentity("sqlmock"))
	})
	dsn := fmt.Sprintf("yoked-%s", t.Name())
	var o sqlmockOpts
	for _, f := range opts {
		f(&o)
	}
	mdb, mock, err := newMock(dsn, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mdb.Close() })
	store := &recStore{Store: mustMemory(t), mock: mock}
	db, err := yoked.Open("sqlmock", dsn, yoked.WithStore(store))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db, mock, store
}

type sqlmockOpts struct {
	conv  driver.ValueConverter
	pings bool
}

func newMock(dsn string, o sqlmockOpts) (*sql.DB, sqlmock.Sqlmock, error) {
	// sqlmock's option type is unexported: one call per combination used.
	switch {
	case o.conv != nil:
		return sqlmock.NewWithDSN(dsn, sqlmock.ValueConverterOption(o.conv))
	case o.pings:
		return sqlmock.NewWithDSN(dsn, sqlmock.MonitorPingsOption(true))
	}
	return sqlmock.NewWithDSN(dsn)
}

// TestErrSkipIsPassedThrough: a base that answers driver.ErrSkip (as
// go-sql-driver/mysql does for arguments without interpolateParams) makes
// database/sql prepare the statement; yoked must pass ErrSkip on untouched,
// cache through the prepared path, and invalidate a write exactly once.
func TestErrSkipIsPassedThrough(t *testing.T) {
	db, mock, store := openMock(t)
	mock.ExpectQuery(`SELECT name FROM users WHERE id = \?`).WithArgs(1).WillReturnError(driver.ErrSkip)
	mock.ExpectPrepare(`SELECT name FROM users WHERE id = \?`).
		ExpectQuery().WithArgs(1).WillReturnRows(sqlmock.NewRows([]string{"name"}).AddRow("ada"))
	var name string
	if err := db.QueryRow(`SELECT name FROM users WHERE id = ?`, 1).Scan(&name); err != nil || name != "ada" {
		t.Fatalf("first read: %q, %v", name, err)
	}
	// The second read is a hit: the mock expects no further call.
	if err := db.QueryRow(`SELECT name FROM users WHERE id = ?`, 1).Scan(&name); err != nil || name != "ada" {
		t.Fatalf("second read: %q, %v", name, err)
	}
	mock.ExpectExec(`UPDATE users`).WithArgs("bob", 1).WillReturnError(driver.ErrSkip)
	mock.ExpectPrepare(`UPDATE users`).ExpectExec().WithArgs("bob", 1).WillReturnResult(sqlmock.NewResult(0, 1))
	if _, err := db.Exec(`UPDATE users SET name = ? WHERE id = ?`, "bob", 1); err != nil {
		t.Fatal(err)
	}
	if err := mock.ExpectationsWereMet(); err != nil {
		t.Fatal(err)
	}
	if len(store.inv) != 1 || !store.inv[0] {
		t.Fatalf("invalidations %v: want exactly one, after the base Exec", store.inv)
	}
	mock.ExpectQuery(`SELECT name FROM users WHERE id = \?`).WithArgs(1).
		WillReturnRows(sqlmock.NewRows([]string{"name"}).AddRow("bob"))
	if err := db.QueryRow(`SELECT name FROM users WHERE id = ?`, 1).Scan(&name); err != nil || name != "bob" {
		t.Fatalf("read after write: %q, %v", name, err)
	}
}

func TestCommitInvalidatesAfterBaseCommitRollbackNever(t *testing.T) {
	db, mock, store := openMock(t)
	mock.ExpectBegin()
	mock.ExpectExec(`UPDATE users`).WillReturnResult(sqlmock.NewResult(0, 1))
	mock.ExpectCommit()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`UPDATE users SET name = 'x'`); err != nil {
		t.Fatal(err)
	}
	if len(store.inv) != 0 {
		t.Fatal("a write inside a transaction was invalidated before Commit")
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if len(store.inv) != 1 || !store.inv[0] {
		t.Fatalf("invalidations %v: want one, after the base Commit", store.inv)
	}

	mock.ExpectBegin()
	mock.ExpectExec(`DELETE FROM users`).WillReturnResult(sqlmock.NewResult(0, 1))
	mock.ExpectRollback()
	tx, _ = db.Begin()
	tx.Exec(`DELETE FROM users`)
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if len(store.inv) != 1 {
		t.Fatalf("rollback invalidated: %v", store.inv)
	}

	// A commit that fails may still have committed: invalidate anyway, and
	// return the base's error unchanged.
	mock.ExpectBegin()
	mock.ExpectExec(`UPDATE orders`).WillReturnResult(sqlmock.NewResult(0, 1))
	boom := fmt.Errorf("connection reset during commit")
	mock.ExpectCommit().WillReturnError(boom)
	tx, _ = db.Begin()
	tx.Exec(`UPDATE orders SET total = 1`)
	if err := tx.Commit(); err != boom {
		t.Fatalf("Commit error = %v, want the base's error", err)
	}
	if len(store.inv) != 2 {
		t.Fatalf("failed commit did not invalidate: %v", store.inv)
	}
	if err := mock.ExpectationsWereMet(); err != nil {
		t.Fatal(err)
	}
}

type cents struct{ n int64 }

type centsConverter struct{}

func (centsConverter) ConvertValue(v any) (driver.Value, error) {
	if c, ok := v.(cents); ok {
		return c.n, nil
	}
	return driver.DefaultParameterConverter.ConvertValue(v)
}

// TestNamedValueCheckerIsNotMasked: the base connection's checker converts a
// type the default converter rejects; through yoked it must still be asked.
func TestNamedValueCheckerIsNotMasked(t *testing.T) {
	db, mock, _ := openMock(t, func(o *sqlmockOpts) { o.conv = centsConverter{} })
	mock.ExpectExec(`UPDATE orders SET total = \?`).WithArgs(int64(250)).WillReturnResult(sqlmock.NewResult(0, 1))
	if _, err := db.Exec(`UPDATE orders SET total = ?`, cents{250}); err != nil {
		t.Fatal(err)
	}
	mock.ExpectPrepare(`UPDATE orders SET total = \?`).ExpectExec().WithArgs(int64(7)).WillReturnResult(sqlmock.NewResult(0, 1))
	st, err := db.Prepare(`UPDATE orders SET total = ?`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Exec(cents{7}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if err := mock.ExpectationsWereMet(); err != nil {
		t.Fatal(err)
	}
}

// TestPingIsForwarded: the base's Pinger answers, error included.
func TestPingIsForwarded(t *testing.T) {
	db, mock, _ := openMock(t, func(o *sqlmockOpts) { o.pings = true })
	down := fmt.Errorf("server went away")
	mock.ExpectPing()
	mock.ExpectPing().WillReturnError(down)
	if err := db.Ping(); err != nil {
		t.Fatalf("first ping: %v", err)
	}
	if err := db.Ping(); err != down {
		t.Fatalf("second ping = %v, want the base's error", err)
	}
	if err := mock.ExpectationsWereMet(); err != nil {
		t.Fatal(err)
	}
}
