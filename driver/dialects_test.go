package driver_test

// The driver links no SQL parser of its own: programs import the dialects
// they use, and so do its tests.
import (
	_ "github.com/yokedcache/yoked/sqlparse/mysql"
	_ "github.com/yokedcache/yoked/sqlparse/postgres"
	_ "github.com/yokedcache/yoked/sqlparse/sqlite"
)
