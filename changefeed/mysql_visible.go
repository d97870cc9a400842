package changefeed

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/go-sql-driver/mysql"
)

// Visibility. A transaction reaches the binlog, and the stream, before
// InnoDB makes it visible: the server writes (and syncs, and sends) the
// binlog, then commits in the engine; semi-synchronous replication waiting
// AFTER_SYNC holds the commit there until a replica answers. A read in
// between sees the old rows and caches them under the tag versions the
// invalidation just made, and that entry would outlive the change.
//
// So each transaction ending in an XID (a transactional engine's) is
// invalidated twice: at once, as it is read, and again once it is visible;
// only the second passes it on to the apply loop, which acknowledges
// positions and writes heartbeats. Visibility is proved per batch for its
// last such transaction: InnoDB commits in binlog order (MariaDB's
// commit_ordered, MySQL's binlog_order_commits=ON, the default), so the
// others before it are visible too. The proof:
//
//   - a locking read (LOCK IN SHARE MODE, in a transaction rolled back at
//     once) of one row the transaction changed, in an InnoDB table whose
//     integer primary key information_schema gives: the transaction holds
//     that row's lock until its commit is visible. A table the schema
//     catalog no longer has, or whose key columns are gone, was changed by
//     DDL, which waits for the transaction's metadata lock: it is visible.
//   - otherwise (a table without such a key, one the user may not lock, a
//     statement logged as such, a compressed transaction), or when the
//     lock stays taken for lockWait (another transaction may have locked
//     the row since): the statements running on the server
//     (information_schema.PROCESSLIST) are waited for until they ended;
//     a commit not yet visible is one of them (running). This needs the
//     PROCESS privilege; without it the feed stalls (and says so) rather
//     than vouch for what it cannot see. (information_schema.INNODB_TRX
//     would name the transactions, but the server refreshes it only once
//     nobody read it for 100 ms, so it can be arbitrarily old.)
//
// Transactions not ending in an XID are visible when they reach the
// binlog: non-transactional tables (MyISAM, Aria) change in place before
// their events are written, and DDL holds its exclusive metadata lock
// until it is done, so a reader waits for it.

const (
	lockWait = time.Second // innodb_lock_wait_timeout of the probe, its minimum
)

// probe is one row a transaction changed.
type probe struct {
	query string // a locking read of the row
	args  []any
}

// pkCols is how to find the primary key of a table in a row image.
type pkCols struct {
	ok       bool // InnoDB, an integer primary key, and columns counted
	query    string
	cols     []int // 0-based positions of the key columns
	unsigned []bool
	ncols    int // columns of the table
}

// visibility proves that transactions read from the stream are visible.
type visibility struct {
	db   *sql.DB
	conn *sql.Conn // the probe's, innodb_lock_wait_timeout set
	keys map[string]*pkCols
	// each: prove every transaction, not the last of a batch (commits
	// out of binlog order).
	each bool
	// process: the user has the PROCESS privilege (running).
	process bool
}

func newVisibility(ctx context.Context, db *sql.DB) (*visibility, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	// READ COMMITTED: a probe of a row gone since takes no gap lock.
	for _, q := range []string{"SET SESSION innodb_lock_wait_timeout = " + strconv.Itoa(int(lockWait/time.Second)),
		"SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			conn.Close()
			return nil, fmt.Errorf("%s: %w", q, err)
		}
	}
	v := &visibility{db: db, conn: conn, keys: map[string]*pkCols{}}
	// MySQL's binlog_order_commits=OFF lets InnoDB commit a group out of
	// binlog order: then every transaction is proved on its own. MariaDB
	// has no such setting (commit_ordered follows the binlog).
	var ordered sql.NullString
	if err := conn.QueryRowContext(ctx, "SELECT @@global.binlog_order_commits").Scan(&ordered); err == nil {
		v.each = ordered.String == "0" || strings.EqualFold(ordered.String, "OFF")
	}
	return v, nil
}

func (v *visibility) close() { v.conn.Close() }

// schemaChanged forgets the keys read: DDL may have changed them.
func (v *visibility) schemaChanged() { clear(v.keys) }

func quoteName(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// key returns the key columns of schema.table, read once per table (and
// again after DDL in the stream; a key read later than the event is the
// event's own while its transaction is not visible, DDL waiting for it).
func (v *visibility) key(ctx context.Context, schema, table string) *pkCols {
	name := schema + "." + table
	if k, ok := v.keys[name]; ok {
		return k
	}
	k := &pkCols{}
	v.keys[name] = k
	var engine sql.NullString
	var ncols int
	err := v.db.QueryRowContext(ctx, `SELECT t.ENGINE, (SELECT COUNT(*) FROM information_schema.COLUMNS c
		WHERE c.TABLE_SCHEMA = t.TABLE_SCHEMA AND c.TABLE_NAME = t.TABLE_NAME)
		FROM information_schema.TABLES t WHERE t.TABLE_SCHEMA = ? AND t.TABLE_NAME = ?`, schema, table).Scan(&engine, &ncols)
	if err != nil || !strings.EqualFold(engine.String, "InnoDB") {
		return k
	}
	rows, err := v.db.QueryContext(ctx, `SELECT c.COLUMN_NAME, c.ORDINAL_POSITION, c.DATA_TYPE, c.COLUMN_TYPE
		FROM information_schema.STATISTICS s JOIN information_schema.COLUMNS c
		ON c.TABLE_SCHEMA = s.TABLE_SCHEMA AND c.TABLE_NAME = s.TABLE_NAME AND c.COLUMN_NAME = s.COLUMN_NAME
		WHERE s.TABLE_SCHEMA = ? AND s.TABLE_NAME = ? AND s.INDEX_NAME = 'PRIMARY' ORDER BY s.SEQ_IN_INDEX`, schema, table)
	if err != nil {
		return k
	}
	defer rows.Close()
	var where []string
	for rows.Next() {
		var col, dataType, colType string
		var pos int
		if err := rows.Scan(&col, &pos, &dataType, &colType); err != nil {
			return k
		}
		switch strings.ToLower(dataType) {
		case "tinyint", "smallint", "mediumint", "int", "bigint":
		default:
			return k
		}
		where = append(where, quoteName(col)+" = ?")
		k.cols = append(k.cols, pos-1)
		k.unsigned = append(k.unsigned, strings.Contains(strings.ToLower(colType), "unsigned"))
	}
	if rows.Err() != nil || len(k.cols) == 0 {
		return k
	}
	k.ncols = ncols
	k.query = "SELECT 1 FROM " + quoteName(schema) + "." + quoteName(table) + " WHERE " + strings.Join(where, " AND ") + " LOCK IN SHARE MODE"
	k.ok = true
	return k
}

// probeOf returns a locking read of one row of a rows event (nil when
// there is none to lock): the last row's key, from the before image of an
// UPDATE (it always holds the key).
func (v *visibility) probeOf(ctx context.Context, ev *replication.RowsEvent) *probe {
	if ev.Table == nil || len(ev.Rows) == 0 {
		return nil
	}
	var row []any
	var skipped []int
	switch ev.Type() {
	case replication.EnumRowsEventTypeInsert, replication.EnumRowsEventTypeDelete:
		row = ev.Rows[len(ev.Rows)-1]
		if len(ev.SkippedColumns) == len(ev.Rows) {
			skipped = ev.SkippedColumns[len(ev.Rows)-1]
		}
	case replication.EnumRowsEventTypeUpdate:
		if len(ev.Rows) < 2 {
			return nil
		}
		i := len(ev.Rows) - 2
		i -= i % 2
		row = ev.Rows[i]
		if len(ev.SkippedColumns) == len(ev.Rows) {
			skipped = ev.SkippedColumns[i]
		}
	default:
		return nil
	}
	k := v.key(ctx, string(ev.Table.Schema), string(ev.Table.Table))
	if !k.ok || int(ev.Table.ColumnCount) != k.ncols {
		return nil
	}
	p := &probe{query: k.query}
	for i, col := range k.cols {
		if col >= len(row) || col >= len(ev.Table.ColumnType) {
			return nil
		}
		for _, s := range skipped {
			if s == col {
				return nil
			}
		}
		val, ok := intValue(row[col], ev.Table.ColumnType[col], k.unsigned[i])
		if !ok {
			return nil
		}
		p.args = append(p.args, val)
	}
	return p
}

func sqlErrno(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

// lockRead waits for the row of p to be unlocked. It reports false when
// it stayed locked for lockWait (its lock may be another transaction's),
// or the user may not lock it.
func (v *visibility) lockRead(ctx context.Context, p *probe) (bool, error) {
	tx, err := v.conn.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, p.query, p.args...)
	if err == nil {
		rows.Close()
		return true, nil
	}
	switch sqlErrno(err) {
	case gomysql.ER_LOCK_WAIT_TIMEOUT, gomysql.ER_TABLEACCESS_DENIED_ERROR, gomysql.ER_COLUMNACCESS_DENIED_ERROR:
		return false, nil // prove it otherwise
	case gomysql.ER_NO_SUCH_TABLE, gomysql.ER_BAD_FIELD_ERROR:
		return true, nil // changed by DDL since: the transaction is over
	}
	return false, fmt.Errorf("locking read: %w", err)
}

// running waits until every statement that was running when it started
// has ended: a commit that is not visible yet is one of them (its session
// is still in the COMMIT, or the autocommit statement, that wrote it to the
// binlog). Threads are read from information_schema.PROCESSLIST, which
// shows a user every thread only with the PROCESS privilege; without it
// running fails rather than vouch for what it cannot see. A thread is past
// the statement seen when it is gone, idle (Sleep), or its statement is
// younger than that one (TIME fell).
func (v *visibility) running(ctx context.Context) error {
	if !v.process {
		var n int
		err := v.conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE = 'PROCESS'
			AND GRANTEE = CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')`).Scan(&n)
		if err != nil {
			return fmt.Errorf("read the PROCESS privilege: %w", err)
		}
		if n == 0 {
			return errNoProcess
		}
		v.process = true
	}
	// Idle threads, and a replica's threads while they wait for events
	// (their TIME keeps growing), are in no commit.
	const q = `SELECT ID, TIME FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID()
		AND COMMAND NOT IN ('Sleep', 'Binlog Dump', 'Binlog Dump GTID', 'Daemon', 'Slave_IO')
		AND COALESCE(STATE, '') NOT LIKE '%has read all relay log%' AND COALESCE(STATE, '') NOT LIKE 'Waiting for work from%'
		AND COALESCE(STATE, '') NOT LIKE 'Waiting for an event from Coordinator%'
		AND COALESCE(STATE, '') NOT LIKE 'Waiting for master to send event%' AND COALESCE(STATE, '') NOT LIKE 'Waiting for source to send event%'`
	var waiting map[int64]int64 // thread: TIME when first seen
	for first := true; first || len(waiting) > 0; first = false {
		if !first {
			sleep(ctx, 2*time.Millisecond)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rows, err := v.conn.QueryContext(ctx, q)
		if err != nil {
			return fmt.Errorf("read information_schema.PROCESSLIST: %w", err)
		}
		now := map[int64]int64{}
		for rows.Next() {
			var id, t int64
			if err := rows.Scan(&id, &t); err != nil {
				rows.Close()
				return err
			}
			now[id] = t
		}
		rows.Close()
		if first {
			waiting = now
			continue
		}
		for id, t := range waiting {
			if t2, ok := now[id]; !ok || t2 < t {
				delete(waiting, id)
			}
		}
	}
	return nil
}

// errNoProcess: the watcher's user lacks the PROCESS privilege.
var errNoProcess = errors.New("the user lacks the PROCESS privilege, so information_schema.PROCESSLIST does not show every commit under way: a transaction without a lockable row (an InnoDB table without an integer primary key) cannot be proved visible, and the feed waits (grant PROCESS)")

// visible waits until c, and so every transaction before it, is visible.
func (v *visibility) visible(ctx context.Context, c *commit) error {
	if c.probe != nil {
		ok, err := v.lockRead(ctx, c.probe)
		if err != nil || ok {
			return err
		}
	}
	return v.running(ctx)
}

// gate passes commits on to out, in stream order, once visible. One
// goroutine invalidates commits as they arrive (batched while the store
// answers); this one proves the last of each batch waiting visible and
// passes them on (to be invalidated again, and acknowledged).
func (v *visibility) gate(ctx context.Context, w *Watcher, in <-chan *commit, out chan<- *commit) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	seen := make(chan []*commit, maxBatch)
	firstErr := make(chan error, 1)
	go func() { firstErr <- v.first(ctx, w, in, seen) }()
	var queue []*commit
	for {
		if len(queue) == 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case err := <-firstErr:
				return err
			case b := <-seen:
				queue = append(queue, b...)
			}
		}
	drain:
		for len(queue) < maxBatch {
			select {
			case b := <-seen:
				queue = append(queue, b...)
			default:
				break drain
			}
		}
		var prove []*commit
		for _, c := range queue {
			if c.unseen {
				if !v.each {
					prove = prove[:0]
				}
				prove = append(prove, c)
			}
		}
		for _, c := range prove {
			for {
				err := v.visible(ctx, c)
				if err == nil {
					break
				}
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if sqlErrno(err) == 0 && !errors.Is(err, errNoProcess) {
					return err // the connection: a new session
				}
				w.fail("visibility", err)
				sleep(ctx, time.Second)
			}
		}
		for _, c := range queue {
			select {
			case out <- c:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		queue = queue[:0]
	}
}

// first invalidates the commits that may not be visible yet as they
// arrive, and passes them on to seen in batches.
func (v *visibility) first(ctx context.Context, w *Watcher, in <-chan *commit, seen chan<- []*commit) error {
	for {
		var batch []*commit
		select {
		case <-ctx.Done():
			return ctx.Err()
		case c := <-in:
			batch = append(batch, c)
		}
		batch = drain(in, batch)
		if slices.ContainsFunc(batch, func(c *commit) bool { return c.unseen }) {
			list, all, ddl := union(batch, func(c *commit) bool { return c.unseen })
			if err := w.apply(ctx, list, all, ddl); err != nil {
				return err
			}
		}
		select {
		case seen <- batch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
