package changefeed_test

// yoked's driver links no SQL parser itself: the dialects are imported.
import (
	_ "github.com/yokedcache/yoked/sqlparse/mysql"
	_ "github.com/yokedcache/yoked/sqlparse/postgres"
	_ "github.com/yokedcache/yoked/sqlparse/sqlite"
)
