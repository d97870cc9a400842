// Package sqlcshop has the shape of the code sqlc generates for the
// PostgreSQL engine and database/sql (a DBTX interface, Queries, one method
// per named query in query.sql, over the tables of schema.sql), written by
// hand so that yoked's tests need no sqlc binary. Its queries keep sqlc's
// "-- name:" comment at the start of each statement, as the generated
// constants do. The example in the parent package runs it over a yoked
// *sql.DB.
package sqlcshop
