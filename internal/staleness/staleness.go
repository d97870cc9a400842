// Package staleness records the operations of a concurrent workload on a set
// of registers (rows) — each with its start time, end time and value — and
// checks the history for reads that a correct cache could not have served.
// It knows nothing of SQL, caches or processes: it is handed operations.
//
// # Model
//
// Every write gives one row a value no other write ever gives that row (a
// unique id; see below for values shared between rows). Committed writes of a row have a commit order, given to the
// checker as Version (1, 2, 3, … per row; version 0 is the row's initial
// value, Value 0). The workload learns the order from the database itself
// (for example a trigger that appends (row, version, value) to a log in the
// writing transaction), so the order is the one the database applied, and a
// rolled-back write leaves no trace in it. Times are nanoseconds on one clock
// shared by every recording process (the wall clock of one machine).
//
// # What is reported
//
// For a read R of a row that observed value x:
//
//   - rolled back: x was written only by writes that did not commit;
//   - unknown: x was never written to that row by anyone (and is not 0);
//   - stale: some committed write W of the row returned (W.End) before R
//     began (R.Start), and x is older than W in the commit order;
//   - future: x was written by a write that began after R ended.
//
// A read that began after a newer value was observed committed (its write
// had returned) is the stale case: a value never goes backwards for such a
// reader.
//
// # Rows that come and go
//
// A write with a negative Value removes the row (a tombstone: a delete, or
// the old key of a key-changing update); a later write gives it a value
// again (an insert). A read that found no row is Absent: it observed one of
// the row's tombstones, or its initial state (version 0, which the checker
// takes as possibly absent, since it is not told which rows exist at the
// start). It is stale when every tombstone that could explain it (one whose
// write began before the read ended) is older than a write that returned
// before the read began.
//
// Values written by clients are unique across rows; a tombstone or a value
// the database derived (a cascade) need only be unique within its row.
//
// # Soundness
//
// The check is exact for the property, without search: it needs no
// linearization because the commit order of each row is known. A write W
// with W.End < R.Start committed before R began, so the database state any
// read starting at R.Start can observe contains W or a later write of the
// row; a value older than W in the row's commit order can only come from a
// stale cache. Conversely every observed value not flagged has a committed
// write that did not return before R began, or is the newest returned one,
// so an uncached database could have returned it: nothing is flagged that a
// correct system could produce (no false positives), and every read that
// violates the property is flagged (no false negatives). Writes whose
// outcome the client never learned (an error after the database may have
// committed) are placed by the database's log and given End = Unknown, so
// they never make other values "required" but may be observed.
package staleness

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Unknown is the End of an operation whose completion the client never saw.
const Unknown int64 = math.MaxInt64

// Kind says whether an operation read or wrote.
type Kind uint8

// Operation kinds.
const (
	Read Kind = iota + 1
	Write
)

// Op is one operation on one row. A multi-row read is one Op per row, all
// with the same Start and End.
type Op struct {
	Kind  Kind  `json:"k"`
	Row   int64 `json:"r"`
	Value int64 `json:"v"` // written, or observed
	Start int64 `json:"s"` // ns, taken before the operation was issued
	End   int64 `json:"e"` // ns, taken after it returned (Unknown if it never did)
	// Committed and Version describe writes: whether the write committed and
	// its position in the row's commit order (from 1).
	Committed bool   `json:"c,omitempty"`
	Version   int64  `json:"n,omitempty"`
	Client    string `json:"cl,omitempty"` // who issued it, for reports
	Cached    bool   `json:"h,omitempty"`  // a read the application believes came from the cache (reporting only)
	Absent    bool   `json:"a,omitempty"`  // a read that found no row (Value is ignored)
}

// Violation is one read a correct system could not have returned.
type Violation struct {
	Reason string // "stale", "rolled back", "unknown value", "future value"
	Read   Op
	// Write is the committed write the read should have seen (stale), or
	// the write whose value it saw (rolled back, future).
	Write Op
}

func (v Violation) String() string {
	r := v.Read
	saw := fmt.Sprint(r.Value)
	if r.Absent {
		saw = "no row"
	}
	s := fmt.Sprintf("%s read by %s of row %d saw %s during [%d,%d]", v.Reason, r.Client, r.Row, saw, r.Start, r.End)
	if v.Write.Kind == Write {
		w := v.Write
		s += fmt.Sprintf("; write by %s of %d (version %d) ran [%d,%d]", w.Client, w.Value, w.Version, w.Start, w.End)
	}
	return s
}

// Report is the outcome of Check.
type Report struct {
	Ops, Reads, Writes int
	Committed, Aborted int
	CachedReads        int // reads with Cached set
	Violations         []Violation
}

// Stale counts the violations of every kind.
func (r Report) Stale() int { return len(r.Violations) }

// String is a short summary with the first few violations.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d ops checked (%d reads, %d writes: %d committed, %d rolled back), %d violations",
		r.Ops, r.Reads, r.Writes, r.Committed, r.Aborted, len(r.Violations))
	for i, v := range r.Violations {
		if i == 10 {
			fmt.Fprintf(&b, "\n  … %d more", len(r.Violations)-i)
			break
		}
		b.WriteString("\n  ")
		b.WriteString(v.String())
	}
	return b.String()
}

// rowHistory is what Check knows of one row's writes.
type rowHistory struct {
	byValue  map[int64]Op // committed writes by value
	aborted  map[int64]Op // writes that did not commit, by value
	tombs    []Op         // committed writes that removed the row
	returned []Op         // committed writes with a known End, sorted by End
	// maxVer[i] is the highest Version among returned[:i+1].
	maxVer []int64
	maxOp  []Op
}

// Check checks a history (in any order). It returns an error, not a report,
// when the history itself is inconsistent: two committed writes of a row
// with one version, a value written twice, a version sequence with holes.
func Check(ops []Op) (Report, error) {
	var rep Report
	rows := map[int64]*rowHistory{}
	row := func(id int64) *rowHistory {
		h := rows[id]
		if h == nil {
			h = &rowHistory{byValue: map[int64]Op{}, aborted: map[int64]Op{}}
			rows[id] = h
		}
		return h
	}
	type rowValue struct{ row, value int64 }
	seen := map[rowValue]bool{}
	for _, op := range ops {
		rep.Ops++
		switch op.Kind {
		case Write:
			rep.Writes++
			if op.Value == 0 {
				return rep, fmt.Errorf("staleness: write of row %d with value 0 (reserved for the initial value)", op.Row)
			}
			if seen[rowValue{op.Row, op.Value}] {
				return rep, fmt.Errorf("staleness: value %d written twice to row %d: values must be unique", op.Value, op.Row)
			}
			seen[rowValue{op.Row, op.Value}] = true
			h := row(op.Row)
			if !op.Committed {
				rep.Aborted++
				h.aborted[op.Value] = op
				continue
			}
			rep.Committed++
			h.byValue[op.Value] = op
			if op.Value < 0 {
				h.tombs = append(h.tombs, op)
			}
			if op.End != Unknown {
				h.returned = append(h.returned, op)
			}
		case Read:
			rep.Reads++
			if op.Cached {
				rep.CachedReads++
			}
		default:
			return rep, fmt.Errorf("staleness: operation of unknown kind %d", op.Kind)
		}
	}
	for id, h := range rows {
		vers := make([]int64, 0, len(h.byValue))
		for _, w := range h.byValue {
			vers = append(vers, w.Version)
		}
		sort.Slice(vers, func(i, j int) bool { return vers[i] < vers[j] })
		for i, v := range vers {
			if v != int64(i+1) {
				return rep, fmt.Errorf("staleness: row %d: committed versions are not 1..%d (found %d at position %d)", id, len(vers), v, i+1)
			}
		}
		sort.Slice(h.returned, func(i, j int) bool { return h.returned[i].End < h.returned[j].End })
		h.maxVer = make([]int64, len(h.returned))
		h.maxOp = make([]Op, len(h.returned))
		var best Op
		for i, w := range h.returned {
			if w.Version > best.Version {
				best = w
			}
			h.maxVer[i], h.maxOp[i] = best.Version, best
		}
	}
	for _, r := range ops {
		if r.Kind != Read {
			continue
		}
		h := rows[r.Row]
		if h == nil {
			h = row(r.Row)
		}
		var ver int64
		if r.Absent {
			// The newest removal that could explain it (version 0: the row
			// may not have existed at the start).
			for _, w := range h.tombs {
				if w.Start <= r.End && w.Version > ver {
					ver = w.Version
				}
			}
		} else if r.Value != 0 {
			w, ok := h.byValue[r.Value]
			if !ok {
				if a, ok := h.aborted[r.Value]; ok {
					rep.Violations = append(rep.Violations, Violation{Reason: "rolled back", Read: r, Write: a})
				} else {
					rep.Violations = append(rep.Violations, Violation{Reason: "unknown value", Read: r})
				}
				continue
			}
			if w.Start > r.End {
				rep.Violations = append(rep.Violations, Violation{Reason: "future value", Read: r, Write: w})
				continue
			}
			ver = w.Version
		}
		// The newest write of the row that returned before r began.
		i := sort.Search(len(h.returned), func(i int) bool { return h.returned[i].End >= r.Start }) - 1
		if i >= 0 && h.maxVer[i] > ver {
			rep.Violations = append(rep.Violations, Violation{Reason: "stale", Read: r, Write: h.maxOp[i]})
		}
	}
	return rep, nil
}
