package driver

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"reflect"
	"strings"
	"sync"
)

var (
	_ driver.Driver        = (*Driver)(nil)
	_ driver.DriverContext = (*Driver)(nil)
)

// Prefix is the prefix of every driver name yoked registers: "yoked+sqlite3".
const Prefix = "yoked+"

func init() {
	for _, base := range []string{"sqlite3", "sqlite", "postgres", "pgx", "pgx/v5", "mysql"} {
		sql.Register(Prefix+base, &Driver{baseName: base})
	}
}

var registered sync.Map // base name -> []Option given to Register

// Register registers "yoked+<base>" for a base driver registered under base,
// with opts applied to every DB opened through it (by sql.Open or Open). It
// panics, as sql.Register does, when called twice for one name or for a name
// yoked registers itself.
func Register(base string, opts ...Option) {
	if _, dup := registered.LoadOrStore(base, opts); dup {
		panic("yoked: Register called twice for base driver " + base)
	}
	sql.Register(Prefix+base, &Driver{baseName: base, opts: opts})
}

// registeredOpts returns the options given to Register for base.
func registeredOpts(base string) []Option {
	if v, ok := registered.Load(base); ok {
		return v.([]Option)
	}
	return nil
}

// Driver is a yoked driver: it wraps a base driver, either found by name when
// a DB is opened (the registered "yoked+<name>" drivers) or given to Wrap.
type Driver struct {
	baseName string
	base     driver.Driver
	opts     []Option
}

// Wrap returns a yoked driver around base, to be registered with
// sql.Register or used with sql.OpenDB through OpenConnector. The dialect is
// guessed from base's package (sqlite, pq/pgx, mysql) unless WithDialect is
// given.
func Wrap(base driver.Driver, opts ...Option) *Driver {
	return &Driver{base: base, opts: opts}
}

// Open opens one connection. database/sql does not call it (it uses
// OpenConnector); it is there for direct users of the driver.
func (d *Driver) Open(dsn string) (driver.Conn, error) {
	c, err := d.OpenConnector(dsn)
	if err != nil {
		return nil, err
	}
	return c.Connect(context.Background())
}

// OpenConnector resolves the base driver, reads the configuration and
// returns a connector whose connections go through the cache. Configuration
// errors and an unknown base driver are reported here, so sql.Open returns
// them.
func (d *Driver) OpenConnector(dsn string) (driver.Connector, error) {
	base, name, err := d.resolve(dsn)
	if err != nil {
		return nil, err
	}
	var bc driver.Connector
	if dc, ok := base.(driver.DriverContext); ok {
		if bc, err = dc.OpenConnector(dsn); err != nil {
			return nil, err
		}
	} else {
		bc = dsnConnector{dsn: dsn, drv: base}
	}
	return newConnector(bc, name, identityOf(name, dsn), d.opts)
}

func (d *Driver) resolve(dsn string) (driver.Driver, string, error) {
	if d.base != nil {
		return d.base, driverName(d.base), nil
	}
	if !isRegistered(d.baseName) {
		return nil, "", fmt.Errorf("yoked: base driver %q is not registered; import it (for example _ %q)", d.baseName, importHint(d.baseName))
	}
	db, err := sql.Open(d.baseName, dsn)
	if err != nil {
		return nil, "", err
	}
	base := db.Driver()
	db.Close()
	return base, d.baseName, nil
}

func isRegistered(name string) bool {
	for _, n := range sql.Drivers() {
		if n == name {
			return true
		}
	}
	return false
}

func importHint(base string) string {
	switch base {
	case "sqlite3":
		return "github.com/mattn/go-sqlite3"
	case "sqlite":
		return "modernc.org/sqlite"
	case "postgres":
		return "github.com/lib/pq"
	case "pgx", "pgx/v5":
		return "github.com/jackc/pgx/v5/stdlib"
	case "mysql":
		return "github.com/go-sql-driver/mysql"
	}
	return "the package of driver " + base
}

// driverName guesses a base name from a driver's package, for Wrap and OpenDB.
func driverName(d driver.Driver) string {
	t := reflect.TypeOf(d)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	pkg := t.PkgPath()
	switch {
	case strings.Contains(pkg, "sqlite"):
		return "sqlite3"
	case strings.Contains(pkg, "lib/pq"):
		return "postgres"
	case strings.Contains(pkg, "pgx"):
		return "pgx"
	case strings.Contains(pkg, "mysql"):
		return "mysql"
	}
	return pkg + "." + t.Name()
}

// dsnConnector is the connector database/sql itself would use for a driver
// without DriverContext.
type dsnConnector struct {
	dsn string
	drv driver.Driver
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.drv }
