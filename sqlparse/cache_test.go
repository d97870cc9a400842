package sqlparse

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
)

// counting is a Parser that counts the texts it is asked about.
type counting struct{ n atomic.Int64 }

func (c *counting) Parse(sql string) Statement {
	c.n.Add(1)
	return Scan(sql)
}

func TestCache(t *testing.T) {
	base := &counting{}
	p := NewCache(base, 100)
	for range 3 {
		if st := p.Parse("DELETE FROM t"); st.Kind != KindWrite || st.Writes[0].Name != "t" {
			t.Fatalf("got %+v", st)
		}
		p.Parse("SELECT 1")
	}
	if n := base.n.Load(); n != 2 {
		t.Errorf("base parser asked %d times for 2 distinct texts", n)
	}
	long := "SELECT " + strings.Repeat("1,", maxCachedText) + "1"
	p.Parse(long)
	p.Parse(long)
	if n := base.n.Load(); n != 4 {
		t.Errorf("long text: base parser asked %d times, want 4 (never cached)", n)
	}
}

func TestCacheBounded(t *testing.T) {
	base := &counting{}
	p := NewCache(base, 10)
	for i := range 1000 {
		p.Parse(fmt.Sprintf("SELECT %d", i))
	}
	cache := p.(*cached).c
	cache.CleanUp()
	if n := cache.EstimatedSize(); n > 10 {
		t.Errorf("cache holds %d texts, bound is 10", n)
	}
}

func BenchmarkCache(b *testing.B) {
	const sql = "SELECT u.name, o.total FROM users u JOIN orders o ON o.user_id = u.id WHERE u.id = ?"
	b.Run("hit", func(b *testing.B) {
		p := NewCache(&counting{}, 100)
		p.Parse(sql)
		b.ReportAllocs()
		for b.Loop() {
			p.Parse(sql)
		}
	})
	b.Run("scan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Scan(sql)
		}
	})
}
