//go:build cgo

package postgres

import pg "github.com/pganalyze/pg_query_go/v6"

// parseTree runs pg_query compiled from C (cgo builds). pg_query_go's
// package holds the tree types too, so a cgo build compiles its C parser
// whichever parser runs: this one is the faster of the two.
func parseTree(sql string) (*pg.ParseResult, error) { return pg.Parse(sql) }

// Engine names the pg_query build in use: "cgo" or "wasm".
const Engine = "cgo"

// Warm does nothing: pg_query from C needs no start-up.
func (parser) Warm() {}
