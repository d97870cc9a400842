// Package cgofree proves that programs using yoked over a pure-Go base
// driver (pgx, go-sql-driver/mysql, modernc.org/sqlite) build without a C
// compiler, natively and cross-compiled, and that such a program caches and
// invalidates against the real database. Its test builds the programs in
// testdata with CGO_ENABLED=0; Story is what each of them runs.
package cgofree
