package changefeed

import (
	"fmt"
	"testing"
)

// A transaction's changed rows are invalidated by row and set tag up to
// maxRowTags per table, then by the table's tag; a table already
// invalidated whole gets no row tags.
func TestTouchRowBound(t *testing.T) {
	c := &commit{}
	for i := range maxRowTags {
		c.touchRow("table:a", "set:a", fmt.Sprintf("row:a(id=%d)", i))
	}
	if _, ok := c.tags["table:a"]; ok {
		t.Fatal("table invalidated whole within the bound")
	}
	if _, ok := c.tags["set:a"]; !ok || len(c.tags) != maxRowTags+1 {
		t.Fatalf("%d tags, want the set tag and %d rows", len(c.tags), maxRowTags)
	}
	c.touchRow("table:a", "set:a", "row:a(id=-1)")
	if _, ok := c.tags["table:a"]; !ok {
		t.Fatal("past the bound the table is not invalidated whole")
	}
	c.touch("table:b")
	c.touchRow("table:b", "set:b", "row:b(id=1)")
	if _, ok := c.tags["row:b(id=1)"]; ok {
		t.Fatal("row tag added to a table already invalidated whole")
	}
	if c.events != maxRowTags+3 {
		t.Fatalf("events %d, want %d (one per change)", c.events, maxRowTags+3)
	}
}
