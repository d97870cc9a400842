package main

// explain, bench and demo speak every dialect: link all three parsers
// (yoked's driver links none of its own).
import (
	_ "github.com/yokedcache/yoked/sqlparse/mysql"
	_ "github.com/yokedcache/yoked/sqlparse/postgres"
	_ "github.com/yokedcache/yoked/sqlparse/sqlite"
)
