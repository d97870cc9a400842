package changefeed

import (
	"context"
	"database/sql"
	"strings"

	"github.com/yokedcache/yoked/catalog"
	"github.com/yokedcache/yoked/sqlparse"
	"github.com/yokedcache/yoked/sqlparse/dialect"
)

// cascades adds what MySQL's and MariaDB's row binlog leaves out: the rows
// a foreign key's ON DELETE/UPDATE action changes. InnoDB applies the
// action below the server's logging (a replica applies it again), so a
// DELETE of a parent row is logged without the child rows it deleted. A rows
// event of a table therefore also invalidates every table the schema
// catalog says a write to it changes (catalog.WritesOf). When in doubt it
// invalidates everything: a catalog that cannot be read, a table whose
// database the watcher's user may not see entirely (information_schema
// shows only the foreign keys of tables the user has privileges on).
//
// The catalog is the one read when the session started or after the last
// DDL in the stream; it may be newer than the events read before that DDL.
// So heartbeats wait until the stream is past the server's position read
// after the catalog (since): a DDL the catalog already reflects is then
// applied, invalidating everything, before a heartbeat can vouch for the
// events before it.
type cascades struct {
	cat     *catalog.Catalog
	global  bool            // the user may see every database
	schemas map[string]bool // databases the user may see entirely
	since   binlogPos       // the server's position when cat had been read
	known   map[string]cascade
}

type cascade struct {
	tags []string
	all  bool
}

// loadCascades reads the schema catalog and the user's privileges.
func (m *mysqlSource) loadCascades(ctx context.Context, w *Watcher, db *sql.DB) (*cascades, error) {
	c := &cascades{cat: catalog.Failed(), schemas: map[string]bool{}, known: map[string]cascade{}}
	if parser, err := dialect.For(sqlparse.DialectMySQL); err != nil {
		w.cfg.Logger.Warn("changefeed: no MySQL parser for the schema catalog: every write invalidates everything", "err", err)
	} else if cat, err := catalog.Load(ctx, sqlparse.DialectMySQL, catalog.DB(db), parser, nil); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		w.cfg.Logger.Warn("changefeed: cannot read the schema catalog (foreign keys): every write invalidates everything", "err", err)
	} else {
		c.cat = cat
	}
	// Privileges of the user itself (not through a role), global or per
	// database; anything else is not seen entirely.
	const grantee = `CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')`
	rows, err := catalog.DB(db).Query(ctx, `SELECT '' FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE = 'SELECT' AND GRANTEE = `+grantee+
		` UNION ALL SELECT LOWER(TABLE_SCHEMA) FROM information_schema.SCHEMA_PRIVILEGES WHERE PRIVILEGE_TYPE = 'SELECT' AND GRANTEE = `+grantee)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		if r[0] == "" {
			c.global = true
		} else {
			c.schemas[r[0]] = true
		}
	}
	if !c.global && len(c.schemas) == 0 {
		w.cfg.Logger.Warn("changefeed: the user has no SELECT privilege on whole databases, so foreign keys are not visible: every write invalidates everything")
	}
	if c.since, _, err = masterPos(ctx, db); err != nil {
		return nil, err
	}
	return c, nil
}

// of returns the tags a change to rows of schema.table invalidates beside
// the table's own, or all.
func (c *cascades) of(schema, table string, tag func(schema, table string) string) ([]string, bool) {
	rel := strings.ToLower(schema + "." + table)
	if k, ok := c.known[rel]; ok {
		return k.tags, k.all
	}
	var k cascade
	if !c.global && !c.schemas[strings.ToLower(schema)] {
		k.all = true
	} else {
		var also []string
		also, k.all = c.cat.WritesOf(rel)
		for _, r := range also {
			s, t, ok := strings.Cut(r, ".")
			if !ok {
				k.all = true
				break
			}
			k.tags = append(k.tags, tag(s, t))
		}
	}
	c.known[rel] = k
	return k.tags, k.all
}
