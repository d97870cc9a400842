//go:build !cgo

package postgres

import pgquery "github.com/wasilibs/go-pgquery"

// parseJSON is pg_query's JSON tree, from the same build the parser uses.
func parseJSON(sql string) (string, error) {
	wasmMu.Lock()
	defer wasmMu.Unlock()
	return pgquery.ParseToJSON(sql)
}
