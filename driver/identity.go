package driver

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/yokedcache/yoked/sqlparse"
)

// The identity of a connection is the part of every cache key that says
// which data a read saw. It is built from what the connection actually
// reached, asked of the server right after the base connection opened, not
// from the DSN text alone: the same text reaches different data when it is a
// relative SQLite path, ":memory:", PostgreSQL settings taken from PG*
// environment variables, or a pgx stdlib.RegisterConnConfig name (which
// repeats across processes). Two connections share entries only when they
// reached the same server, database and user with the same settings that
// shape results, and (for sql.Open) came from the same DSN text, which also
// carries the client's decoding options.
//
//   - PostgreSQL: the cluster's system identifier (or, when the user may not
//     read it, the postmaster start time), the server address and port,
//     current_database() and its oid, current_user, session_user, and every
//     setting whose value is not its built-in default (search_path,
//     TimeZone, DateStyle, …) except those that cannot change a result
//     (see harmlessSetting).
//   - MySQL/MariaDB: @@server_uid (MariaDB) or @@server_uuid (MySQL) when
//     there is one, @@hostname, @@port, @@socket, @@datadir, DATABASE(),
//     CURRENT_USER() and the session variables that shape results
//     (sql_mode, time_zone, character sets and collation, …).
//   - SQLite: the absolute path of every database file attached
//     (PRAGMA database_list). A database only this connection can see
//     (":memory:", a temporary file, an attached one of those) gets a random
//     identity of its own: it never shares entries.
//
// When the server cannot be asked (an error, a pooler or fake server with an
// unexpected answer, a timeout) the connection gets no identity: its reads
// bypass the cache (skip reason "unidentified") while its writes still
// invalidate, and a warning is logged. WithIdentity replaces all of this
// with the identity given: no question is sent.

// skipUnidentified is the skip reason of reads on a connection whose
// identity could not be established.
const skipUnidentified = "unidentified"

// identityTimeout bounds the identity queries of one new connection.
const identityTimeout = 10 * time.Second

// identityOf is the part of the identity the caller of sql.Open chose: the
// base driver name and a hash of the DSN text (so the password never appears
// in keys). It keeps DSNs with different client options (parseTime, loc, …)
// apart; what the DSN reached is added per connection.
func identityOf(name, dsn string) string {
	sum := sha256.Sum256([]byte(dsn))
	return name + ":" + hex.EncodeToString(sum[:16])
}

// identify returns the identity of a new base connection, or "" when it
// cannot be established (logged), and the reason its reads are never
// cached, if any.
func (c *connector) identify(ctx context.Context, bc driver.Conn) (id, skip string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), identityTimeout)
	defer cancel()
	id, skip, err := c.identityOf(ctx, bc)
	if err != nil {
		log := c.cfg.Logger.Debug
		if c.idWarned.CompareAndSwap(false, true) {
			log = c.cfg.Logger.Warn
		}
		log("yoked: cannot tell which database the connection reached; its reads are not cached", "err", err)
		return "", ""
	}
	return id, skip
}

// identityOf asks bc what it reached and returns its identity, and the
// reason its reads are never cached ("" normally; skipSystemCatalog when
// its current database or search_path is a system schema, where unqualified
// names are catalog tables).
func (c *connector) identityOf(ctx context.Context, bc driver.Conn) (id, skip string, err error) {
	if c.cfg.Identity != "" {
		return c.cfg.Identity, "", nil
	}
	facts, private, err := reached(ctx, c.dialect, bc)
	if err != nil {
		return "", "", err
	}
	if private {
		var b [16]byte
		rand.Read(b[:])
		return c.idBase + ":private:" + hex.EncodeToString(b[:]), "", nil
	}
	if systemDefault(c.dialect, facts) {
		skip = skipSystemCatalog
	}
	sum := sha256.Sum256([]byte(c.idBase + "\x00" + facts))
	return c.idBase + ":" + hex.EncodeToString(sum[:16]), skip, nil
}

// skipSystemCatalog is the skip reason of reads on a connection whose
// unqualified names reach the database's own catalog.
const skipSystemCatalog = "system_catalog"

// systemDefault reports whether unqualified names on a connection with
// these facts resolve to a system schema: a MySQL current database such as
// information_schema or mysql, a PostgreSQL search_path naming
// information_schema (pg_catalog's relations are all named pg_…, which the
// parser recognises).
func systemDefault(dialect, facts string) bool {
	parts := strings.Split(facts, "\x00")
	switch dialect {
	case sqlparse.DialectMySQL:
		return len(parts) > 5 && sqlparse.SystemSchema(dialect, strings.ToLower(parts[5]))
	case sqlparse.DialectPostgres:
		if len(parts) < 8 {
			return false
		}
		for _, line := range strings.Split(parts[7], "\n") {
			path, ok := strings.CutPrefix(line, "search_path=")
			if !ok {
				continue
			}
			for _, s := range strings.Split(path, ",") {
				s = strings.ToLower(strings.Trim(strings.TrimSpace(s), `"`))
				if s != "pg_catalog" && sqlparse.SystemSchema(dialect, s) {
					return true
				}
			}
		}
	}
	return false
}

// reached asks the base connection what it is connected to, as one string
// of facts; private is true for a database no other connection can see.
func reached(ctx context.Context, dialect string, bc driver.Conn) (facts string, private bool, err error) {
	defer func() {
		// A base driver that panics on an odd answer must not take the
		// application down: the connection just goes unidentified.
		if r := recover(); r != nil {
			facts, private, err = "", false, fmt.Errorf("identity query panicked: %v", r)
		}
	}()
	switch dialect {
	case sqlparse.DialectPostgres:
		facts, err = reachedPostgres(ctx, bc)
	case sqlparse.DialectMySQL:
		facts, err = reachedMySQL(ctx, bc)
	case sqlparse.DialectSQLite:
		return reachedSQLite(ctx, bc)
	default:
		err = fmt.Errorf("no identity query for dialect %q", dialect)
	}
	return facts, false, err
}

// oneRow runs q and wants exactly one row of n columns.
func oneRow(ctx context.Context, bc driver.Conn, q string, n int) ([]string, error) {
	rows, err := baseQuery(ctx, bc, q)
	if err != nil {
		return nil, err
	}
	if len(rows) != 1 || len(rows[0]) != n {
		return nil, fmt.Errorf("identity query answered %d rows of %d columns, want 1 row of %d", len(rows), lenFirst(rows), n)
	}
	return rows[0], nil
}

func lenFirst(rows [][]string) int {
	if len(rows) == 0 {
		return 0
	}
	return len(rows[0])
}

const pgIdentity = `SELECT coalesce(host(inet_server_addr()), ''), coalesce(inet_server_port()::text, ''),
	current_database(), current_user, session_user,
	(SELECT oid::text FROM pg_database WHERE datname = current_database()),
	coalesce((SELECT string_agg(name || '=' || setting, E'\n' ORDER BY name) FROM pg_settings
		WHERE setting IS DISTINCT FROM boot_val), ''), `

func reachedPostgres(ctx context.Context, bc driver.Conn) (string, error) {
	// The system identifier tells clusters apart; a user who may not read
	// it still may read when the server started, which is as good within
	// one cluster's life (a restart only costs misses).
	row, err := oneRow(ctx, bc, pgIdentity+`(SELECT 'sysid:' || system_identifier::text FROM pg_control_system())`, 8)
	if err != nil {
		var err2 error
		row, err2 = oneRow(ctx, bc, pgIdentity+`'started:' || extract(epoch FROM pg_postmaster_start_time())::text`, 8)
		if err2 != nil {
			return "", errors.Join(err, err2)
		}
	}
	if row[2] == "" || row[7] == "" || row[7] == "sysid:" || row[7] == "started:" {
		return "", fmt.Errorf("identity query answered no database or server (%q, %q)", row[2], row[7])
	}
	var settings []string
	for _, s := range strings.Split(row[6], "\n") {
		name, _, _ := strings.Cut(s, "=")
		if s != "" && !harmlessSetting(sqlparse.DialectPostgres, name) {
			settings = append(settings, s)
		}
	}
	row[6] = strings.Join(settings, "\n")
	return "postgres\x00" + strings.Join(row, "\x00"), nil
}

// mysqlIdentity: server, database, user, and the session variables whose
// value changes what a read returns (string comparison and conversion,
// time zone, SQL mode, truncation limits, week numbering, month names).
const mysqlIdentity = `SELECT @@hostname, @@port, @@socket, @@datadir, DATABASE(), CURRENT_USER(),
	@@session.sql_mode, @@session.time_zone, @@session.character_set_client, @@session.character_set_connection,
	@@session.character_set_results, @@session.collation_connection, @@session.div_precision_increment,
	@@session.group_concat_max_len, @@session.lc_time_names, @@session.default_week_format,
	@@session.sql_select_limit, @@session.sql_auto_is_null, @@session.max_sort_length`

const mysqlIdentityCols = 19

func reachedMySQL(ctx context.Context, bc driver.Conn) (string, error) {
	// MariaDB names its server id @@server_uid, MySQL @@server_uuid; a
	// server with neither is told apart by host, port, socket and datadir.
	var row []string
	var errs []error
	for _, uid := range []string{", @@server_uid", ", @@server_uuid", ", ''"} {
		r, err := oneRow(ctx, bc, mysqlIdentity+uid, mysqlIdentityCols+1)
		if err == nil {
			row = r
			break
		}
		errs = append(errs, err)
	}
	if row == nil {
		return "", errors.Join(errs...)
	}
	if row[0] == "" && row[2] == "" && row[3] == "" && row[mysqlIdentityCols] == "" {
		return "", errors.New("identity query answered no server")
	}
	return "mysql\x00" + strings.Join(row, "\x00"), nil
}

func reachedSQLite(ctx context.Context, bc driver.Conn) (string, bool, error) {
	rows, err := baseQuery(ctx, bc, `PRAGMA database_list`)
	if err != nil {
		return "", false, err
	}
	var files []string
	for _, r := range rows {
		if len(r) != 3 {
			return "", false, fmt.Errorf("PRAGMA database_list answered %d columns, want 3", len(r))
		}
		if r[1] == "temp" {
			continue // per connection; reading a temporary table taints it
		}
		if r[2] == "" {
			// In memory or a temporary file: only this connection sees it.
			return "", true, nil
		}
		files = append(files, r[1]+"="+r[2])
	}
	if !slices.ContainsFunc(files, func(f string) bool { return strings.HasPrefix(f, "main=") }) {
		return "", false, errors.New("PRAGMA database_list answered no main database")
	}
	slices.Sort(files)
	return "sqlite\x00" + strings.Join(files, "\x00"), false, nil
}
