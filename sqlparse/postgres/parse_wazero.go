//go:build !cgo

package postgres

import (
	"sync"

	pg "github.com/pganalyze/pg_query_go/v6"
	pgquery "github.com/wasilibs/go-pgquery"
)

// wasmMu keeps pg_query's WebAssembly build to one instance: go-pgquery
// compiles a new module (seconds of CPU, megabytes of memory) for each
// concurrent caller it has no idle instance for, while one parse takes tens
// of microseconds and the driver parses each statement text once.
var wasmMu sync.Mutex

var warmOnce sync.Once

// Warm compiles the WebAssembly module in the background, once per
// process: the first parse otherwise waits for it (seconds of CPU). The
// driver calls it when a DB of this dialect is opened.
func (parser) Warm() {
	warmOnce.Do(func() { go parseTree("SELECT 1") })
}

// parseTree runs pg_query compiled to WebAssembly, in pure Go (builds
// without cgo). The first call compiles the module.
func parseTree(sql string) (*pg.ParseResult, error) {
	wasmMu.Lock()
	defer wasmMu.Unlock()
	return pgquery.Parse(sql)
}

// Engine names the pg_query build in use: "cgo" or "wasm".
const Engine = "wasm"
