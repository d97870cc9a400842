package changefeed

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/go-sql-driver/mysql"

	"github.com/yokedcache/yoked/catalog"
	"github.com/yokedcache/yoked/sqlparse"
)

// MySQL and MariaDB: the row-based binlog, read as a replica. The position
// (binlog file and offset, and the GTID set read when the server has GTIDs)
// is saved in the store (PositionMark) after the store acknowledged every
// transaction before it; a watcher resumes from the GTID set when there is
// one, from the file and offset otherwise. Heartbeats: every
// HeartbeatEvery the watcher reads the server's binlog position (SHOW MASTER
// STATUS) at time T; once the stream has been read past that position, every
// transaction whose commit returned before T is queued behind it, and the
// heartbeat is written after they are applied.

// errPositionGone is a saved position the server no longer has.
var errPositionGone = errors.New("binlog position purged")

type mysqlSource struct {
	cfg  Config
	dsn  *mysql.Config
	host string
	port uint16
	// metaWarned: the warning that binlog_row_metadata is not FULL was
	// logged (once per watcher, not per session).
	metaWarned atomic.Bool
}

func newMySQL(cfg Config) (*mysqlSource, error) {
	dsn, err := mysql.ParseDSN(cfg.Source)
	if err != nil {
		return nil, fmt.Errorf("%w: source: %v", ErrConfig, err)
	}
	if dsn.Net != "tcp" && dsn.Net != "" {
		return nil, fmt.Errorf("%w: source: the binlog is read over TCP (tcp(host:port)), not %s", ErrConfig, dsn.Net)
	}
	host, portStr, err := net.SplitHostPort(dsn.Addr)
	if err != nil {
		return nil, fmt.Errorf("%w: source address %q: %v", ErrConfig, dsn.Addr, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("%w: source port %q", ErrConfig, portStr)
	}
	return &mysqlSource{cfg: cfg, dsn: dsn, host: host, port: uint16(port)}, nil
}

// binlogPos is a position in the binlog; files sort by name.
type binlogPos struct {
	file string
	pos  uint32
}

func (p binlogPos) String() string { return p.file + ":" + strconv.FormatUint(uint64(p.pos), 10) }

func (p binlogPos) atLeast(q binlogPos) bool {
	return p.file > q.file || p.file == q.file && p.pos >= q.pos
}

func parseBinlogPos(s string) (binlogPos, bool) {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 {
		return binlogPos{}, false
	}
	n, err := strconv.ParseUint(s[i+1:], 10, 32)
	if err != nil {
		return binlogPos{}, false
	}
	return binlogPos{s[:i], uint32(n)}, true
}

// marker is a heartbeat waiting for the stream to reach pos.
type marker struct {
	at  time.Time
	pos binlogPos
}

func (m *mysqlSource) session(ctx context.Context, w *Watcher) error {
	db, err := sql.Open("mysql", m.dsn.FormatDSN())
	if err != nil {
		return fmt.Errorf("%w: %v", ErrConfig, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(3) // heartbeats, the catalog, the visibility probe
	flavor, err := m.check(ctx, w, db)
	if err != nil {
		return err
	}
	if err := w.schemaEpoch(ctx, sqlparse.DialectMySQL, catalog.DB(db)); err != nil {
		return err
	}
	start, set, err := m.startPosition(ctx, w, db, flavor)
	if err == nil {
		var vis *visibility
		if vis, err = newVisibility(ctx, db); err == nil {
			err = m.stream(ctx, w, db, vis, flavor, start, set)
			vis.close()
		}
	}
	if errors.Is(err, errPositionGone) {
		w.cfg.Logger.Warn("changefeed: saved binlog position is gone", "position", start, "err", err)
		if err := w.cfg.Store.SetMark(ctx, PositionMark, nil); err != nil {
			return err
		}
		return fmt.Errorf("binlog position %s: %w; starting fresh", start, err)
	}
	return err
}

// check verifies the server's binlog settings and returns its flavor.
func (m *mysqlSource) check(ctx context.Context, w *Watcher, db *sql.DB) (string, error) {
	var version, logBin, format, image string
	err := db.QueryRowContext(ctx, "SELECT VERSION(), @@global.log_bin, @@global.binlog_format, @@global.binlog_row_image").
		Scan(&version, &logBin, &format, &image)
	if err != nil {
		return "", fmt.Errorf("read server settings: %w", err)
	}
	if logBin != "1" && !strings.EqualFold(logBin, "ON") {
		return "", fmt.Errorf("%w: the binlog is off (start the server with log_bin)", ErrConfig)
	}
	if !strings.EqualFold(format, "ROW") {
		w.cfg.Logger.Warn("changefeed: binlog_format is not ROW: statement events invalidate the whole namespace", "binlog_format", format)
	}
	if m.cfg.RowTag != nil {
		// Row tags need the key in every table map (see mysql_rows.go); the
		// events say whether they carry it, this only tells the operator.
		var meta string
		if err := db.QueryRowContext(ctx, "SELECT @@global.binlog_row_metadata").Scan(&meta); err != nil {
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			meta = "unsupported (" + err.Error() + ")"
		}
		if !strings.EqualFold(meta, "FULL") && !m.metaWarned.Swap(true) {
			w.cfg.Logger.Warn("changefeed: binlog_row_metadata is not FULL: the binlog does not name primary keys, so every change invalidates its whole table (set binlog_row_metadata=FULL for row tags)",
				"binlog_row_metadata", meta)
		}
	}
	if strings.Contains(strings.ToLower(version), "mariadb") {
		return gomysql.MariaDBFlavor, nil
	}
	return gomysql.MySQLFlavor, nil
}

// masterPos reads the server's current binlog position, and MySQL's
// Executed_Gtid_Set at that position (nil on MariaDB, which has no such
// column).
func masterPos(ctx context.Context, db *sql.DB) (binlogPos, *string, error) {
	rows, err := db.QueryContext(ctx, "SHOW MASTER STATUS")
	if err != nil {
		// MySQL 8.4 renamed it.
		var err2 error
		rows, err2 = db.QueryContext(ctx, "SHOW BINARY LOG STATUS")
		if err2 != nil {
			return binlogPos{}, nil, fmt.Errorf("read the binlog position: %w", err)
		}
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return binlogPos{}, nil, err
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return binlogPos{}, nil, err
		}
		return binlogPos{}, nil, fmt.Errorf("%w: SHOW MASTER STATUS is empty: the binlog is off", ErrConfig)
	}
	vals := make([]any, len(cols))
	var file string
	var pos uint32
	var executed *string
	vals[0], vals[1] = &file, &pos
	for i := 2; i < len(vals); i++ {
		if strings.EqualFold(cols[i], "Executed_Gtid_Set") {
			executed = new(string)
			vals[i] = executed
		} else {
			vals[i] = new(sql.RawBytes)
		}
	}
	if err := rows.Scan(vals...); err != nil {
		return binlogPos{}, nil, err
	}
	return binlogPos{file, pos}, executed, nil
}

// startPosition is the saved position, or the server's current one (after
// invalidating the namespace) when there is none, and the GTID set at it
// (nil when unknown). A saved GTID set is used when the server has GTIDs.
func (m *mysqlSource) startPosition(ctx context.Context, w *Watcher, db *sql.DB, flavor string) (streamPos, gomysql.GTIDSet, error) {
	b, err := w.cfg.Store.Mark(ctx, PositionMark)
	if err != nil {
		return streamPos{}, nil, fmt.Errorf("read the saved position: %w", err)
	}
	gtids, err := hasGTIDs(ctx, db, flavor)
	if err != nil {
		return streamPos{}, nil, fmt.Errorf("read gtid_mode: %w", err)
	}
	if p, ok := parseStreamPos(string(b)); ok {
		if p.gtid != "" && gtids {
			set, err := gomysql.ParseGTIDSet(flavor, p.gtid)
			if err != nil {
				return p, nil, fmt.Errorf("%w: the saved GTID set is not a %s one: %v", errPositionGone, flavor, err)
			}
			return p, set, nil
		}
		if p.file == "" {
			return p, nil, fmt.Errorf("%w: the saved position is a GTID set and the server has no GTIDs", errPositionGone)
		}
		p.gtid = ""
		var set gomysql.GTIDSet
		if gtids {
			set = gtidAt(ctx, db, flavor, p.binlogPos, nil)
		}
		return p, set, nil
	}
	// Read the position first: everything committed before it is covered
	// by the invalidation that follows, everything after by the stream.
	p, executed, err := masterPos(ctx, db)
	if err != nil {
		return streamPos{}, nil, err
	}
	var set gomysql.GTIDSet
	if gtids {
		set = gtidAt(ctx, db, flavor, p, executed)
	}
	start := streamPos{p, (&gtidSet{set}).String()}
	if err := w.resetNamespace(ctx, "no saved binlog position: changes before "+start.String()+" are not in the stream"); err != nil {
		return streamPos{}, nil, err
	}
	if err := w.cfg.Store.SetMark(ctx, PositionMark, []byte(start.String())); err != nil {
		return streamPos{}, nil, err
	}
	return start, set, nil
}

type evOrErr struct {
	ev  *replication.BinlogEvent
	err error
}

func (m *mysqlSource) stream(ctx context.Context, w *Watcher, db *sql.DB, vis *visibility, flavor string, start streamPos, set gomysql.GTIDSet) error {
	casc, err := m.loadCascades(ctx, w, db) // before the first heartbeat marker
	if err != nil {
		return fmt.Errorf("read foreign keys: %w", err)
	}
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID: m.cfg.ServerID, Flavor: flavor, Host: m.host, Port: m.port,
		User: m.dsn.User, Password: m.dsn.Passwd, DisableRetrySync: true,
		HeartbeatPeriod: time.Second, ReadTimeout: 10 * time.Second,
		Logger: m.cfg.Logger,
	})
	defer syncer.Close()
	read := start.binlogPos // the stream has been read up to here
	gtid := &gtidSet{set}   // and this GTID set
	var streamer *replication.BinlogStreamer
	if start.gtid != "" && set != nil {
		// The file and offset are the server's to say, in the first
		// (rotate) event: a saved one may be another server's.
		read = binlogPos{}
		streamer, err = syncer.StartSyncGTID(set.Clone())
	} else {
		streamer, err = syncer.StartSync(gomysql.Position{Name: start.file, Pos: start.pos})
	}
	if err != nil {
		var me *gomysql.MyError
		if errors.As(err, &me) && me.Code == gomysql.ER_MASTER_FATAL_ERROR_READING_BINLOG {
			return fmt.Errorf("%w: %v", errPositionGone, err)
		}
		return fmt.Errorf("start binlog dump at %s: %w", start, err)
	}
	w.cfg.Logger.Info("changefeed: streaming the binlog", "position", start, "by_gtid", read.file == "", "server_id", m.cfg.ServerID)

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := make(chan evOrErr, 256)
	go func() {
		for {
			ev, err := streamer.GetEvent(sctx)
			select {
			case events <- evOrErr{ev, err}:
			case <-sctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	markers := make(chan marker, 16)
	go func() {
		t := time.NewTicker(m.cfg.HeartbeatEvery)
		defer t.Stop()
		for {
			at := time.Now() // before the position is read
			if p, _, err := masterPos(sctx, db); err == nil {
				select {
				case markers <- marker{at, p}:
				default: // the stream is behind; a later marker will do
				}
			} else if sctx.Err() == nil {
				w.fail("heartbeat position", err)
			}
			select {
			case <-sctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	// Commits go to the apply loop once visible (vis.gate).
	commits := make(chan *commit, maxBatch)
	visible := make(chan *commit, maxBatch)
	applyErr := make(chan error, 2)
	gated := make(chan struct{})
	go func() { applyErr <- w.applyLoop(sctx, visible) }()
	go func() {
		defer close(gated)
		applyErr <- vis.gate(sctx, w, commits, visible)
	}()
	defer func() {
		cancel()
		<-gated // before vis closes
	}()
	enqueue := func(c *commit) error {
		select {
		case commits <- c:
			return nil
		case err := <-applyErr:
			return err
		}
	}
	save := func(pos streamPos) func() {
		return func() {
			if err := w.cfg.Store.SetMark(sctx, PositionMark, []byte(pos.String())); err != nil {
				w.fail("save position", err)
			}
		}
	}

	var pending []marker
	var compressedOnce sync.Once
	var tx *commit
	var txGTID replication.Event // the GTID event of tx
	// done ends tx (or c, for a statement outside one): its position
	// includes its GTID.
	done := func(c *commit) error {
		gtid.commit(txGTID)
		txGTID = nil
		pos := streamPos{read, gtid.String()}
		c.at, c.pos, c.ack = time.Now(), pos.String(), save(pos)
		c.read = c.at
		tx = nil
		return enqueue(c)
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-applyErr:
			return err
		case mk := <-markers:
			pending = append(pending, mk)
		case e := <-events:
			if e.err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				var me *gomysql.MyError
				if errors.As(e.err, &me) && me.Code == gomysql.ER_MASTER_FATAL_ERROR_READING_BINLOG {
					return fmt.Errorf("%w: %v", errPositionGone, e.err)
				}
				return fmt.Errorf("binlog: %w", e.err)
			}
			ev := e.ev
			if r, ok := ev.Event.(*replication.RotateEvent); ok {
				read = binlogPos{string(r.NextLogName), uint32(r.Position)}
				continue
			}
			if ev.Header.LogPos > 0 {
				read.pos = ev.Header.LogPos
			}
			switch x := ev.Event.(type) {
			case *replication.MariadbGTIDEvent, *replication.GTIDEvent:
				tx, txGTID = &commit{}, x
			case *replication.GtidTaggedLogEvent:
				tx, txGTID = &commit{}, x // not understood: the set becomes unknown
			case *replication.PreviousGTIDsEvent:
				gtid.previous(x)
			case *replication.RowsEvent:
				if tx == nil {
					tx = &commit{}
				}
				schema, table := string(x.Table.Schema), string(x.Table.Table)
				var key *rowKey
				if m.cfg.RowTag != nil && ev.Header.LogPos >= ev.Header.EventSize {
					// The catalog is valid for events written after it was read.
					at := binlogPos{read.file, ev.Header.LogPos - ev.Header.EventSize}
					key = casc.keyOf(x.Table, read.file != "" && at.atLeast(casc.since))
				}
				m.touchRows(tx, x.Type(), x.Rows, x.SkippedColumns, key, m.cfg.TableTag(schema, table))
				if p := vis.probeOf(ctx, x); p != nil {
					tx.probe = p
				}
				also, all := casc.of(schema, table, m.cfg.TableTag)
				for _, t := range also {
					tx.tags[t] = struct{}{}
				}
				tx.all = tx.all || all
			case *replication.TransactionPayloadEvent:
				// MySQL 8's binlog_transaction_compression packs a whole
				// transaction, its rows and its XID into one event. The
				// watcher does not read inside it (untested here: no MySQL 8),
				// so the transaction invalidates everything and ends here.
				c := tx
				if c == nil {
					c = &commit{}
				}
				c.all, c.unseen = true, true
				c.events++
				compressedOnce.Do(func() {
					w.cfg.Logger.Warn("changefeed: compressed binlog transactions (binlog_transaction_compression=ON) invalidate everything; turn it off for per-table invalidation")
				})
				if err := done(c); err != nil {
					return err
				}
			case *replication.XIDEvent:
				if tx != nil {
					tx.unseen = true
					if err := done(tx); err != nil {
						return err
					}
				}
			case *replication.QueryEvent:
				q := strings.TrimSpace(string(x.Query))
				switch strings.ToUpper(q) {
				case "BEGIN":
					if tx == nil {
						tx = &commit{}
					}
				case "COMMIT", "ROLLBACK":
					// Non-transactional tables: their rows are written even
					// when the statement ends with ROLLBACK.
					if tx != nil {
						if err := done(tx); err != nil {
							return err
						}
					}
				default:
					// DDL, or DML logged as a statement: not readable as
					// tables, so everything.
					c := tx
					if c == nil {
						c = &commit{}
					}
					c.all, c.ddl = true, isDDL(q)
					c.unseen = !c.ddl // DML logged as a statement
					c.events++
					if c.ddl {
						vis.schemaChanged()
					}
					if err := done(c); err != nil {
						return err
					}
					if c.ddl { // foreign keys may have changed
						if casc, err = m.loadCascades(ctx, w, db); err != nil {
							return fmt.Errorf("read foreign keys: %w", err)
						}
					}
				}
			}
		}
		// Heartbeats the stream has caught up with travel behind every
		// transaction read so far.
		if len(pending) > 0 && tx == nil && read.atLeast(casc.since) {
			var beat time.Time
			kept := pending[:0]
			for _, mk := range pending {
				if read.atLeast(mk.pos) {
					beat = mk.at
				} else {
					kept = append(kept, mk)
				}
			}
			pending = kept
			if !beat.IsZero() {
				pos := streamPos{read, gtid.String()}
				if err := enqueue(&commit{beat: beat, pos: pos.String(), ack: save(pos)}); err != nil {
					return err
				}
			}
		}
	}
}

// isDDL reports whether a statement changes the schema.
func isDDL(q string) bool {
	q = strings.TrimLeft(q, " \t\r\n(")
	if i := strings.IndexAny(q, " \t\r\n"); i > 0 {
		q = q[:i]
	}
	switch strings.ToUpper(q) {
	case "CREATE", "ALTER", "DROP", "RENAME", "TRUNCATE", "GRANT", "REVOKE":
		return true
	}
	return false
}
