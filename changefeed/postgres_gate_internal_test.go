package changefeed

import "testing"

// A transaction is visible in a snapshot when it completed before the
// snapshot: below xmin, or below xmax and not running; the stream's 32-bit
// xid is read as the 64-bit xid nearest xmax, above it too.
func TestSnapshotVisible(t *testing.T) {
	for _, c := range []struct {
		snap string
		xid  uint32
		want bool
	}{
		{"100:105:101,103", 99, true},
		{"100:105:101,103", 100, true},
		{"100:105:101,103", 101, false},
		{"100:105:101,103", 102, true},
		{"100:105:", 104, true},
		{"100:105:", 105, false},
		{"100:105:", 0, true},
		// xmax in epoch 1: xid 4294967290 is epoch 0, below xmin.
		{"4294967300:4294967310:", 4294967290, true},
		// xid 5 is epoch 1 (4294967301), running.
		{"4294967300:4294967310:4294967301", 5, false},
		{"4294967300:4294967310:", 20, false}, // epoch 1 (4294967316), not yet complete
		{"4294967300:4294967310:", 14, false}, // xmax itself
		{"4294967300:4294967310:", 13, true},
	} {
		sn, err := parseSnapshot(c.snap)
		if err != nil {
			t.Fatal(err)
		}
		if got := sn.visible(c.xid); got != c.want {
			t.Errorf("%s: xid %d visible %v, want %v", c.snap, c.xid, got, c.want)
		}
	}
	if _, err := parseSnapshot("1:2"); err == nil {
		t.Error("malformed snapshot accepted")
	}
}
