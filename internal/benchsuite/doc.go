// Package benchsuite holds yoked's end-to-end benchmarks: the raw base
// driver against yoked over the memory store, Redis and Redis with the L1
// near-cache, on SQLite and PostgreSQL, beside the database/sql floor (a
// driver that does no work). It has no code of its own besides the
// benchmarks; `make bench` runs them with the store benchmarks of
// tagstore/memory and tagstore/redisstore and prints the table (see
// internal/benchtable and docs/benchmarks.md).
package benchsuite
