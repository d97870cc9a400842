//go:build cgo

package postgres

import pg "github.com/pganalyze/pg_query_go/v6"

// parseJSON is pg_query's JSON tree, from the same build the parser uses.
func parseJSON(sql string) (string, error) { return pg.ParseToJSON(sql) }
