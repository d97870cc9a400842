package changefeed

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/yokedcache/yoked/sqlparse"
)

// PostgreSQL: logical replication with the pgoutput plugin. A publication
// (FOR ALL TABLES unless one of that name exists) chooses the tables, a
// logical slot keeps the position. Heartbeats travel through the stream
// itself: every HeartbeatEvery the watcher emits a transactional logical
// message carrying the time it was sent; when the stream delivers it, every
// transaction that committed before that time has been delivered (and, the
// stream being applied in order, invalidated). DDL is seen through an event
// trigger that emits a logical message (created when the role may), and
// through relation messages whose shape changed.

const (
	heartbeatPrefix = "yoked.heartbeat"
	ddlPrefix       = "yoked.ddl"
	ddlFunction     = "yoked_changefeed_ddl"
	// ddlTriggerCheck answers 2 when both DDL triggers are in place.
	ddlTriggerCheck = "SELECT count(*) FROM pg_event_trigger WHERE evtname IN ('" + ddlFunction + "_end', '" + ddlFunction + "_drop') AND evtenabled = 'A'"
)

type postgres struct {
	cfg     Config
	sqlCfg  *pgconn.Config
	replCfg *pgconn.Config
	schema  *pgSchema // of the running session
}

func newPostgres(cfg Config) (*postgres, error) {
	sqlCfg, err := pgconn.ParseConfig(cfg.Source)
	if err != nil {
		return nil, fmt.Errorf("%w: source: %v", ErrConfig, err)
	}
	replCfg, err := pgconn.ParseConfig(cfg.Source)
	if err != nil {
		return nil, fmt.Errorf("%w: source: %v", ErrConfig, err)
	}
	replCfg.RuntimeParams["replication"] = "database"
	return &postgres{cfg: cfg, sqlCfg: sqlCfg, replCfg: replCfg}, nil
}

func (p *postgres) session(ctx context.Context, w *Watcher) error {
	sqlConn, err := pgconn.ConnectConfig(ctx, p.sqlCfg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer sqlConn.Close(context.WithoutCancel(ctx))
	trigger, err := p.prepare(ctx, w, sqlConn)
	if err != nil {
		return err
	}
	if err := w.schemaEpoch(ctx, sqlparse.DialectPostgres, pgQuerier{sqlConn}); err != nil {
		return err
	}
	rowTags := p.cfg.RowTag != nil
	if rowTags && !trigger {
		w.cfg.Logger.Warn("changefeed: without the DDL event trigger, changes invalidate whole tables (row tags need DDL seen in the stream)")
		rowTags = false
	}
	p.schema, err = newPgSchema(ctx, w, p.sqlCfg, rowTags)
	if err != nil {
		return err
	}
	defer p.schema.conn.Close(context.WithoutCancel(ctx))
	if err := p.schema.load(ctx, w); err != nil {
		return err
	}
	repl, err := pgconn.ConnectConfig(ctx, p.replCfg)
	if err != nil {
		return fmt.Errorf("connect for replication: %w", err)
	}
	defer repl.Close(context.WithoutCancel(ctx))
	args := []string{"proto_version '1'", "publication_names '" + p.cfg.Publication + "'", "messages 'true'"}
	for attempt := 0; ; attempt++ {
		err = pglogrepl.StartReplication(ctx, repl, p.cfg.Slot, 0, pglogrepl.StartReplicationOptions{PluginArgs: args})
		if err == nil {
			break
		}
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "55006" || attempt > 50 {
			return fmt.Errorf("start replication: %w", err)
		}
		// The slot is still in use by a watcher that lost the lease (or
		// died without its connection being noticed): the lease is ours,
		// so end that backend.
		p.takeSlot(ctx, w, sqlConn)
		sleep(ctx, 100*time.Millisecond)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	w.cfg.Logger.Info("changefeed: streaming", "slot", p.cfg.Slot, "publication", p.cfg.Publication)

	hbErr := make(chan error, 1)
	hctx, stopBeats := context.WithCancel(ctx)
	beating := make(chan struct{})
	go func() {
		defer close(beating)
		hbErr <- p.emitHeartbeats(hctx, sqlConn)
	}()
	vis, err := pgconn.ConnectConfig(ctx, p.sqlCfg)
	if err != nil {
		stopBeats()
		<-beating
		return fmt.Errorf("connect for visibility: %w", err)
	}
	defer vis.Close(context.WithoutCancel(ctx))
	err = p.stream(ctx, w, repl, vis, hbErr)
	stopBeats()
	<-beating // before sqlConn closes
	return err
}

// prepare checks the server, and creates the publication, the DDL trigger
// and the slot when missing. A new (or lost and re-created) slot starts from
// now: everything cached before is invalidated. It reports whether the DDL
// trigger is in place.
func (p *postgres) prepare(ctx context.Context, w *Watcher, c *pgconn.PgConn) (trigger bool, err error) {
	rows, err := query(ctx, c, "SHOW wal_level")
	if err != nil {
		return false, err
	}
	if len(rows) != 1 || rows[0][0] != "logical" {
		return false, fmt.Errorf("%w: wal_level is %v, logical replication needs wal_level=logical", ErrConfig, rows)
	}
	rows, err = query(ctx, c, "SELECT puballtables, pubinsert AND pubupdate AND pubdelete AND pubtruncate FROM pg_publication WHERE pubname = "+quoteLiteral(p.cfg.Publication))
	if err != nil {
		return false, err
	}
	if len(rows) == 0 {
		if _, err := query(ctx, c, "CREATE PUBLICATION "+p.cfg.Publication+" FOR ALL TABLES"); err != nil {
			var pe *pgconn.PgError
			if !errors.As(err, &pe) || pe.Code != "42710" { // created meanwhile by a standby
				return false, fmt.Errorf("create publication %s: %w", p.cfg.Publication, err)
			}
		}
	} else if rows[0][0] != "t" || rows[0][1] != "t" {
		w.cfg.Logger.Warn("changefeed: the existing publication does not cover every table and operation; writes it leaves out are not invalidated",
			"publication", p.cfg.Publication)
	}
	trigger = p.ensureDDLTrigger(ctx, w, c)

	rows, err = query(ctx, c, "SELECT coalesce(wal_status, ''), database = current_database(), plugin FROM pg_replication_slots WHERE slot_name = "+quoteLiteral(p.cfg.Slot))
	if err != nil {
		return false, err
	}
	if len(rows) == 1 && rows[0][1] != "t" {
		return false, fmt.Errorf("%w: replication slot %s belongs to another database", ErrConfig, p.cfg.Slot)
	}
	if len(rows) == 1 && rows[0][2] != "pgoutput" {
		return false, fmt.Errorf("%w: replication slot %s uses plugin %s, not pgoutput", ErrConfig, p.cfg.Slot, rows[0][2])
	}
	if len(rows) == 1 && rows[0][0] == "lost" {
		if _, err := query(ctx, c, "SELECT pg_drop_replication_slot("+quoteLiteral(p.cfg.Slot)+")"); err != nil {
			return false, fmt.Errorf("drop lost slot %s: %w", p.cfg.Slot, err)
		}
		rows = nil
		w.cfg.Logger.Warn("changefeed: the slot lost its WAL; re-creating it", "slot", p.cfg.Slot)
	}
	if len(rows) == 0 {
		_, err := query(ctx, c, "SELECT pg_create_logical_replication_slot("+quoteLiteral(p.cfg.Slot)+", 'pgoutput')")
		if err != nil {
			var pe *pgconn.PgError
			if !errors.As(err, &pe) || pe.Code != "42710" {
				return false, fmt.Errorf("create slot %s: %w", p.cfg.Slot, err)
			}
		}
		if err := w.resetNamespace(ctx, "replication slot "+p.cfg.Slot+" created: changes before it are not in the stream"); err != nil {
			return false, err
		}
	}
	return trigger, nil
}

// ensureDDLTrigger installs an event trigger that emits a logical message
// for every DDL command, so DDL reaches the stream in commit order, and
// reports whether it is in place. The triggers fire always, in sessions
// with session_replication_role = replica too. Event triggers need a
// superuser; without one, DDL is seen only through changed relation
// messages (the next write to an altered table).
func (p *postgres) ensureDDLTrigger(ctx context.Context, w *Watcher, c *pgconn.PgConn) bool {
	rows, err := query(ctx, c, ddlTriggerCheck)
	if err == nil && len(rows) == 1 && rows[0][0] == "2" {
		return true
	}
	script := `CREATE OR REPLACE FUNCTION ` + ddlFunction + `() RETURNS event_trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog AS $f$
BEGIN
  PERFORM pg_logical_emit_message(true, '` + ddlPrefix + `', tg_tag);
EXCEPTION WHEN OTHERS THEN
  NULL; -- never fail the DDL itself (wal_level lowered, feed retired)
END $f$;
DROP EVENT TRIGGER IF EXISTS ` + ddlFunction + `_end;
DROP EVENT TRIGGER IF EXISTS ` + ddlFunction + `_drop;
CREATE EVENT TRIGGER ` + ddlFunction + `_end ON ddl_command_end EXECUTE FUNCTION ` + ddlFunction + `();
CREATE EVENT TRIGGER ` + ddlFunction + `_drop ON sql_drop EXECUTE FUNCTION ` + ddlFunction + `();
ALTER EVENT TRIGGER ` + ddlFunction + `_end ENABLE ALWAYS;
ALTER EVENT TRIGGER ` + ddlFunction + `_drop ENABLE ALWAYS;`
	if _, err := c.Exec(ctx, "BEGIN;"+script+"COMMIT").ReadAll(); err != nil {
		_, _ = c.Exec(context.WithoutCancel(ctx), "ROLLBACK").ReadAll()
		w.cfg.Logger.Warn("changefeed: cannot install the DDL event trigger; DDL is seen only when an altered table is next written",
			"err", err)
		return false
	}
	return true
}

// takeSlot terminates the backend that holds the slot.
func (p *postgres) takeSlot(ctx context.Context, w *Watcher, c *pgconn.PgConn) {
	_, err := query(ctx, c, "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = "+
		quoteLiteral(p.cfg.Slot)+" AND active_pid IS NOT NULL")
	if err != nil {
		w.fail("take over slot", err)
	}
}

// emitHeartbeats sends a heartbeat message through the WAL every period.
func (p *postgres) emitHeartbeats(ctx context.Context, c *pgconn.PgConn) error {
	t := time.NewTicker(p.cfg.HeartbeatEvery)
	defer t.Stop()
	for {
		// The time is taken before the message is written: a commit that
		// returned before it is ahead of the message in the stream.
		now := time.Now()
		_, err := c.Exec(ctx, "SELECT pg_logical_emit_message(true, '"+heartbeatPrefix+"', '"+strconv.FormatInt(now.UnixNano(), 10)+"')").ReadAll()
		if err != nil {
			return fmt.Errorf("emit heartbeat: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (p *postgres) stream(ctx context.Context, w *Watcher, conn, vis *pgconn.PgConn, hbErr <-chan error) error {
	actx, stopApply := context.WithCancel(ctx)
	commits := make(chan *commit, maxBatch)
	applyErr := make(chan error, 1)
	go func() { applyErr <- w.applyLoop(actx, commits) }()
	// Commits go to the store only once other sessions see them (gate).
	decoded := make(chan decodedCommit, maxBatch)
	gateErr := make(chan error, 1)
	gated := make(chan struct{})
	go func() {
		defer close(gated)
		gateErr <- gate(actx, vis, decoded, commits)
	}()
	defer func() {
		stopApply()
		<-gated // before vis closes
	}()
	var xid uint32
	var acked atomic.Uint64 // end of the last transaction the store acknowledged

	rels := map[uint32]*relation{}
	var tx *commit
	var reported pglogrepl.LSN
	lastStatus := time.Now()
	status := func(force bool) error {
		a := pglogrepl.LSN(acked.Load())
		if !force && (a == reported && time.Since(lastStatus) < time.Second || time.Since(lastStatus) < 10*time.Millisecond) {
			return nil
		}
		err := pglogrepl.SendStandbyStatusUpdate(ctx, conn, pglogrepl.StandbyStatusUpdate{WALWritePosition: a})
		if err != nil {
			return fmt.Errorf("acknowledge %s: %w", a, err)
		}
		reported, lastStatus = a, time.Now()
		return nil
	}
	for {
		select {
		case err := <-hbErr:
			return err
		case err := <-applyErr:
			return err
		case err := <-gateErr:
			return err
		default:
		}
		if err := status(false); err != nil {
			return err
		}
		rctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		msg, err := conn.ReceiveMessage(rctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if pgconn.Timeout(err) {
				continue
			}
			return fmt.Errorf("receive: %w", err)
		}
		var data []byte
		switch m := msg.(type) {
		case *pgproto3.CopyData:
			data = m.Data
		case *pgproto3.ErrorResponse:
			return fmt.Errorf("stream: %w", pgconn.ErrorResponseToPgError(m))
		default:
			continue
		}
		if len(data) == 0 {
			continue
		}
		switch data[0] {
		case pglogrepl.PrimaryKeepaliveMessageByteID:
			ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(data[1:])
			if err != nil {
				return err
			}
			if ka.ReplyRequested {
				if err := status(true); err != nil {
					return err
				}
			}
		case pglogrepl.XLogDataByteID:
			xld, err := pglogrepl.ParseXLogData(data[1:])
			if err != nil {
				return err
			}
			lm, err := pglogrepl.Parse(xld.WALData)
			if err != nil {
				return fmt.Errorf("decode pgoutput message: %w", err)
			}
			switch m := lm.(type) {
			case *pglogrepl.RelationMessage:
				r := &relation{schema: m.Namespace, name: m.RelationName, ident: m.ReplicaIdentity, columns: m.Columns}
				if old, ok := rels[m.RelationID]; ok {
					// Sent again: the relation's cache was invalidated, an
					// ALTER among the reasons. Read the schema again before
					// naming its rows.
					p.schema.stale = true
					if tx != nil && !old.sameShape(r) {
						// The table changed shape (or name, or key) since
						// we last saw it.
						tx.all, tx.ddl = true, true
					}
				}
				rels[m.RelationID] = r
			case *pglogrepl.BeginMessage:
				tx, xid = &commit{}, m.Xid
			case *pglogrepl.InsertMessage:
				err = p.rowChange(ctx, w, tx, rels, m.RelationID, false, nil, m.Tuple)
			case *pglogrepl.UpdateMessage:
				err = p.rowChange(ctx, w, tx, rels, m.RelationID, true, m.OldTuple, m.NewTuple)
			case *pglogrepl.DeleteMessage:
				err = p.rowChange(ctx, w, tx, rels, m.RelationID, false, m.OldTuple, nil)
			case *pglogrepl.TruncateMessage:
				for _, id := range m.RelationIDs {
					if err = p.touch(ctx, w, tx, rels, id); err != nil {
						break
					}
				}
			case *pglogrepl.LogicalDecodingMessage:
				if tx == nil {
					break // non-transactional messages are not ours
				}
				switch m.Prefix {
				case heartbeatPrefix:
					if n, err := strconv.ParseInt(string(m.Content), 10, 64); err == nil {
						tx.beat = time.Unix(0, n)
					}
				case ddlPrefix:
					tx.all, tx.ddl = true, true
					tx.events++
					p.schema.stale = true
				}
			case *pglogrepl.CommitMessage:
				if tx == nil {
					return errors.New("stream: commit without begin")
				}
				if m.CommitLSN < p.schema.since {
					// The schema was read after this commit: a DDL it
					// reflects may follow in the stream, so no heartbeat
					// vouches for what came before that DDL (see pgSchema).
					tx.beat = time.Time{}
				}
				end := m.TransactionEndLSN
				tx.at, tx.read, tx.pos = m.CommitTime, time.Now(), end.String()
				tx.ack = func() { acked.Store(uint64(end)) }
				select {
				case decoded <- decodedCommit{tx, xid}:
				case err := <-applyErr:
					return err
				case err := <-gateErr:
					return err
				}
				tx = nil
			}
			if err != nil {
				return err
			}
		}
	}
}

// touch adds a relation's table tags to the transaction (its own and its
// inheritance tree's); an unknown relation invalidates everything.
func (p *postgres) touch(ctx context.Context, w *Watcher, tx *commit, rels map[uint32]*relation, id uint32) error {
	if tx == nil {
		return nil
	}
	r, ok := rels[id]
	if !ok || tx.all {
		tx.all = true
		tx.events++
		return nil
	}
	if err := p.fresh(ctx, w, r); err != nil {
		return err
	}
	p.touchTable(tx, r)
	return nil
}

// query runs sql (simple protocol) and returns its rows as text.
func query(ctx context.Context, c *pgconn.PgConn, sql string) ([][]string, error) {
	res, err := c.Exec(ctx, sql).ReadAll()
	if err != nil {
		return nil, err
	}
	var out [][]string
	for _, r := range res {
		for _, row := range r.Rows {
			s := make([]string, len(row))
			for i, v := range row {
				s[i] = string(v)
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// pgQuerier runs catalog queries on a connection.
type pgQuerier struct{ c *pgconn.PgConn }

func (q pgQuerier) Query(ctx context.Context, sql string) ([][]string, error) {
	return query(ctx, q.c, sql)
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// decodedCommit is a transaction read from the stream, with its xid.
type decodedCommit struct {
	tx  *commit
	xid uint32
}

// gate passes decoded transactions on to out, in stream order, once they
// are visible to new snapshots. A commit reaches the WAL, and the stream,
// before the committing session leaves the list of running transactions
// (a synchronous standby's answer, or the scheduler, can hold it there): a
// read in between sees the old rows and may cache them. Invalidated before
// the change is visible, that entry would outlive it; invalidated after,
// it cannot. One snapshot is read per batch of transactions waiting.
func gate(ctx context.Context, c *pgconn.PgConn, in <-chan decodedCommit, out chan<- *commit) error {
	var queue []decodedCommit
	for {
		if len(queue) == 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case d := <-in:
				queue = append(queue, d)
			}
		}
		queue = drain(in, queue)
		rows, err := query(ctx, c, "SELECT pg_current_snapshot()")
		if err != nil {
			return fmt.Errorf("read a snapshot: %w", err)
		}
		if len(rows) != 1 || len(rows[0]) != 1 {
			return fmt.Errorf("read a snapshot: %v", rows)
		}
		snap, err := parseSnapshot(rows[0][0])
		if err != nil {
			return err
		}
		n := 0
		for n < len(queue) && snap.visible(queue[n].xid) {
			select {
			case out <- queue[n].tx:
			case <-ctx.Done():
				return ctx.Err()
			}
			n++
		}
		queue = append(queue[:0], queue[n:]...)
		if len(queue) > 0 && n == 0 {
			sleep(ctx, time.Millisecond) // its session is still finishing the commit
		}
	}
}

// snapshot is a pg_current_snapshot(): xids below xmin are complete, xids
// from xmax on are not, and those in xip were running.
type snapshot struct {
	xmin, xmax uint64
	xip        []uint64
}

func parseSnapshot(s string) (snapshot, error) {
	var sn snapshot
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return sn, fmt.Errorf("snapshot %q", s)
	}
	var err error
	if sn.xmin, err = strconv.ParseUint(parts[0], 10, 64); err != nil {
		return sn, fmt.Errorf("snapshot %q: %w", s, err)
	}
	if sn.xmax, err = strconv.ParseUint(parts[1], 10, 64); err != nil {
		return sn, fmt.Errorf("snapshot %q: %w", s, err)
	}
	if parts[2] != "" {
		for _, x := range strings.Split(parts[2], ",") {
			v, err := strconv.ParseUint(x, 10, 64)
			if err != nil {
				return sn, fmt.Errorf("snapshot %q: %w", s, err)
			}
			sn.xip = append(sn.xip, v)
		}
	}
	return sn, nil
}

// visible reports whether the committed transaction xid (32 bits, as the
// stream gives it) is visible in the snapshot. The xid is recent: within
// 2^31 of xmax, above it too (committed, not yet complete). xid 0 (none)
// is visible.
func (sn snapshot) visible(xid uint32) bool {
	if xid == 0 {
		return true
	}
	x := uint64(int64(sn.xmax) + int64(int32(xid-uint32(sn.xmax))))
	if x < sn.xmin {
		return true
	}
	return x < sn.xmax && !slices.Contains(sn.xip, x)
}
