package staleness

import (
	"bytes"
	"strings"
	"testing"
)

func w(row, val, ver, start, end int64) Op {
	return Op{Kind: Write, Row: row, Value: val, Version: ver, Start: start, End: end, Committed: true, Client: "w"}
}

func aborted(row, val, start, end int64) Op {
	return Op{Kind: Write, Row: row, Value: val, Start: start, End: end, Client: "w"}
}

func r(row, val, start, end int64) Op {
	return Op{Kind: Read, Row: row, Value: val, Start: start, End: end, Client: "r"}
}

func none(row, start, end int64) Op {
	return Op{Kind: Read, Row: row, Absent: true, Start: start, End: end, Client: "r"}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		ops     []Op
		reasons []string // expected violation reasons, in read order
	}{
		{"empty", nil, nil},
		{"initial value before any write", []Op{w(1, 10, 1, 5, 6), r(1, 0, 1, 2)}, nil},
		{"initial value while the write runs", []Op{w(1, 10, 1, 5, 9), r(1, 0, 6, 7)}, nil},
		{"stale: initial value after the write returned", []Op{w(1, 10, 1, 5, 6), r(1, 0, 7, 8)}, []string{"stale"}},
		{"latest value", []Op{w(1, 10, 1, 1, 2), w(1, 11, 2, 3, 4), r(1, 11, 5, 6)}, nil},
		{"stale: older value after the newer write returned", []Op{w(1, 10, 1, 1, 2), w(1, 11, 2, 3, 4), r(1, 10, 5, 6)}, []string{"stale"}},
		{"older value while the newer write is in flight", []Op{w(1, 10, 1, 1, 2), w(1, 11, 2, 3, 9), r(1, 10, 5, 6)}, nil},
		{"newer value before its write returned", []Op{w(1, 10, 1, 1, 2), w(1, 11, 2, 3, 9), r(1, 11, 5, 6)}, nil},
		{"read starting exactly at End is not required to see it", []Op{w(1, 10, 1, 1, 5), r(1, 0, 5, 6)}, nil},
		{"overlapping writes: commit order decides, not End order", []Op{
			w(1, 10, 2, 1, 4), // committed second, returned first
			w(1, 11, 1, 1, 8),
			r(1, 11, 5, 6), // 11 is older than 10, and 10 had returned
		}, []string{"stale"}},
		{"another row's write does not matter", []Op{w(2, 10, 1, 1, 2), r(1, 0, 5, 6)}, nil},
		{"rolled back value", []Op{aborted(1, 10, 1, 2), r(1, 10, 3, 4)}, []string{"rolled back"}},
		{"rolled back value seen during the transaction", []Op{aborted(1, 10, 1, 9), r(1, 10, 3, 4)}, []string{"rolled back"}},
		{"unknown value", []Op{r(1, 77, 3, 4)}, []string{"unknown value"}},
		{"value of another row", []Op{w(2, 10, 1, 1, 2), r(1, 10, 3, 4)}, []string{"unknown value"}},
		{"future value", []Op{w(1, 10, 1, 5, 6), r(1, 10, 1, 2)}, []string{"future value"}},
		{"outcome unknown: never required, may be seen", []Op{w(1, 10, 1, 1, Unknown), r(1, 0, 5, 6), r(1, 10, 7, 8)}, nil},
		{"no row at the start", []Op{none(1, 1, 2)}, nil},
		{"no row after the delete returned", []Op{w(1, 10, 1, 1, 2), w(1, -10, 2, 3, 4), none(1, 5, 6)}, nil},
		{"no row while the delete runs", []Op{w(1, 10, 1, 1, 2), w(1, -10, 2, 3, 9), none(1, 5, 6)}, nil},
		{"stale: the row after its delete returned", []Op{w(1, 10, 1, 1, 2), w(1, -10, 2, 3, 4), r(1, 10, 5, 6)}, []string{"stale"}},
		{"stale: no row after the insert returned", []Op{w(1, 10, 1, 1, 2), r(1, 10, 3, 3), none(1, 5, 6)}, []string{"stale"}},
		{"stale: no row after a re-insert returned", []Op{w(1, -10, 1, 1, 2), w(1, 11, 2, 3, 4), none(1, 5, 6)}, []string{"stale"}},
		{"stale: no row from a delete that began after the read", []Op{w(1, 10, 1, 1, 2), w(1, -10, 2, 7, 9), none(1, 3, 4)}, []string{"stale"}},
		{"one tombstone value in two rows", []Op{w(1, -7, 1, 1, 2), w(2, -7, 1, 1, 2), none(1, 3, 4), none(2, 3, 4)}, nil},
		{"newer value observed, then an older one: stale once the write returned", []Op{
			w(1, 10, 1, 1, 2), w(1, 11, 2, 3, 10),
			r(1, 11, 4, 5), // fine
			r(1, 10, 6, 7), // in flight: allowed
			r(1, 10, 11, 12),
		}, []string{"stale"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Check(tt.ops)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range rep.Violations {
				got = append(got, v.Reason)
			}
			if strings.Join(got, ",") != strings.Join(tt.reasons, ",") {
				t.Fatalf("violations %q, want %q\n%s", got, tt.reasons, rep)
			}
		})
	}
}

func TestCheckRejectsInconsistentHistories(t *testing.T) {
	tests := []struct {
		name string
		ops  []Op
		want string
	}{
		{"value written twice to a row", []Op{w(1, 10, 1, 1, 2), w(1, 10, 2, 3, 4)}, "written twice"},
		{"value zero", []Op{w(1, 0, 1, 1, 2)}, "value 0"},
		{"hole in versions", []Op{w(1, 10, 1, 1, 2), w(1, 11, 3, 1, 2)}, "versions"},
		{"duplicate version", []Op{w(1, 10, 1, 1, 2), w(1, 11, 1, 1, 2)}, "versions"},
		{"unknown kind", []Op{{Kind: 9}}, "unknown kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Check(tt.ops)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestEncodeDecode(t *testing.T) {
	var rec Recorder
	rec.Add(w(1, 10, 1, 1, 2))
	rec.Add(Op{Kind: Read, Row: 1, Value: 10, Start: 3, End: Unknown, Cached: true, Client: "p1/r3"})
	var buf bytes.Buffer
	if err := Encode(&buf, rec.Ops()); err != nil {
		t.Fatal(err)
	}
	got, err := Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != rec.Ops()[0] || got[1] != rec.Ops()[1] {
		t.Fatalf("round trip: %+v", got)
	}
	if _, err := Decode(strings.NewReader("{\"k\":1}\nnot json\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("corrupt history: %v", err)
	}
}

// BenchmarkCheck checks a clean history of 20,000 operations on 100 rows.
func BenchmarkCheck(b *testing.B) {
	var ops []Op
	for i := int64(1); i <= 10000; i++ {
		ops = append(ops, w((i-1)%100, i, (i-1)/100+1, 10*i, 10*i+5), r((i-1)%100, i, 10*i+6, 10*i+7))
	}
	b.ReportAllocs()
	for b.Loop() {
		if rep, err := Check(ops); err != nil || rep.Stale() != 0 {
			b.Fatal(err, rep)
		}
	}
}
