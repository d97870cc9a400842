package changefeed

import (
	"context"
	"database/sql"
	"strings"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
)

// GTID positions of MySQL and MariaDB. A binlog file and offset name a place
// in one server's files; a GTID set names the transactions read, so it stays
// valid after binlog rotation and purges of what was read, and on a replica
// promoted in the server's place. The two flavors differ: MariaDB resumes
// from the last GTID (domain-server-sequence) of each replication domain
// (@@gtid_binlog_pos), MySQL from the set of every GTID executed
// (uuid:1-42,…). The watcher saves both the file and offset and, when it
// knows it, the set; it resumes from the set when the server has GTIDs.
//
// The set must never name a transaction the watcher has not applied (that
// transaction would be skipped): it is read from the server together with a
// position the stream starts at, and grows only with the GTIDs of committed
// transactions read after that position. When in doubt it is dropped
// (unknown), and positions fall back to file and offset.

// gtidField separates the GTID set from the file and offset in a saved
// position: "bin.000002:1234 gtid=0-1-42".
const gtidField = "gtid="

// streamPos is a saved stream position: a binlog file and offset (file
// empty when unknown) and the GTID set read up to there ("" when unknown).
type streamPos struct {
	binlogPos
	gtid string
}

func (p streamPos) String() string {
	switch {
	case p.gtid == "":
		return p.binlogPos.String()
	case p.file == "":
		return gtidField + p.gtid
	}
	return p.binlogPos.String() + " " + gtidField + p.gtid
}

func parseStreamPos(s string) (streamPos, bool) {
	var p streamPos
	if i := strings.Index(s, gtidField); i >= 0 {
		p.gtid = s[i+len(gtidField):]
		s = strings.TrimSpace(s[:i])
		if p.gtid == "" {
			return streamPos{}, false
		}
		if s == "" {
			return p, true
		}
	}
	bp, ok := parseBinlogPos(s)
	if !ok {
		return streamPos{}, false
	}
	p.binlogPos = bp
	return p, true
}

// gtidSet is the GTID set of the transactions read; a nil set is unknown.
type gtidSet struct {
	set gomysql.GTIDSet
}

func (g *gtidSet) String() string {
	if g.set == nil || g.set.IsEmpty() {
		return ""
	}
	return g.set.String()
}

// commit adds the GTID event of a committed transaction (nil: the
// transaction had none).
func (g *gtidSet) commit(ev replication.Event) {
	if g.set == nil || ev == nil {
		return
	}
	switch e := ev.(type) {
	case *replication.MariadbGTIDEvent:
		s, ok := g.set.(*gomysql.MariadbGTIDSet)
		if !ok {
			g.set = nil
			return
		}
		// A domain resumes after its last GTID, whichever server wrote it.
		id := e.GTID
		s.Sets[id.DomainID] = map[uint32]*gomysql.MariadbGTID{id.ServerID: &id}
	case *replication.GTIDEvent:
		if e.GNO <= 0 { // anonymous: gtid_mode is not ON
			return
		}
		next, err := e.GTIDNext()
		if err != nil || g.set.Update(next.String()) != nil {
			g.set = nil
		}
	default: // tagged MySQL GTIDs and anything else not understood
		g.set = nil
	}
}

// previous takes a MySQL Previous_gtids event: every GTID of the binlog
// files before the one starting, all of them read or before the start.
func (g *gtidSet) previous(e *replication.PreviousGTIDsEvent) {
	prev, err := gomysql.ParseMysqlGTIDSet(e.GTIDSets)
	switch {
	case err != nil:
		g.set = nil
	case g.set == nil:
		g.set = prev
	default:
		s, ok := g.set.(*gomysql.MysqlGTIDSet)
		if !ok || s.Add(*prev.(*gomysql.MysqlGTIDSet)) != nil {
			g.set = nil
		}
	}
}

// hasGTIDs reports whether every transaction the server logs has a GTID a
// replica can resume from: always on MariaDB, with gtid_mode=ON on MySQL.
func hasGTIDs(ctx context.Context, db *sql.DB, flavor string) (bool, error) {
	if flavor == gomysql.MariaDBFlavor {
		return true, nil
	}
	var mode sql.NullString
	if err := db.QueryRowContext(ctx, "SELECT @@global.gtid_mode").Scan(&mode); err != nil {
		if strings.Contains(err.Error(), "Unknown system variable") {
			return false, nil
		}
		return false, err
	}
	return strings.EqualFold(mode.String, "ON"), nil
}

// gtidAt returns the GTID set at pos, or nil when it cannot be known.
// executed is MySQL's Executed_Gtid_Set read with pos as the server's
// current position (nil for a saved position).
func gtidAt(ctx context.Context, db *sql.DB, flavor string, pos binlogPos, executed *string) gomysql.GTIDSet {
	if flavor == gomysql.MariaDBFlavor {
		var s sql.NullString
		if err := db.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, ?)", pos.file, pos.pos).Scan(&s); err != nil || !s.Valid {
			return nil
		}
		set, err := gomysql.ParseMariadbGTIDSet(s.String)
		if err != nil {
			return nil
		}
		return set
	}
	if executed == nil {
		return nil // the set at a saved position is learnt at the next binlog file
	}
	set, err := gomysql.ParseMysqlGTIDSet(strings.Join(strings.Fields(*executed), ""))
	if err != nil {
		return nil
	}
	return set
}
