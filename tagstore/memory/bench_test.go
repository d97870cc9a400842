package memory

import (
	"context"
	"fmt"
	"testing"
)

func BenchmarkLookupHit(b *testing.B) {
	s := newStore(b, nil)
	put(b, s, "SELECT * FROM users WHERE id = ?\x001", "row", "table:users")
	ctx := context.Background()
	tags := []string{"table:users"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, hit, _, _ := s.Lookup(ctx, "SELECT * FROM users WHERE id = ?\x001", tags); !hit {
				b.Fatal("miss")
			}
		}
	})
}

func BenchmarkLookupMiss(b *testing.B) {
	s := newStore(b, nil)
	ctx := context.Background()
	tags := []string{"table:users"}
	b.ReportAllocs()
	for b.Loop() {
		if _, hit, _, _ := s.Lookup(ctx, "absent", tags); hit {
			b.Fatal("hit")
		}
	}
}

func BenchmarkSet(b *testing.B) {
	s := newStore(b, nil)
	ctx := context.Background()
	st, _ := s.Stamp(ctx, []string{"table:users"})
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprint("key", i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := s.Set(ctx, keys[i%len(keys)], i, 64, 0, st); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkInvalidateTags shows invalidation is O(1) in the entries of a tag.
func BenchmarkInvalidateTags(b *testing.B) {
	for _, n := range []int{1, 1_000_000} {
		b.Run(fmt.Sprint("entries=", n), func(b *testing.B) {
			s := newStore(b, &Options{MaxBytes: 1 << 30})
			ctx := context.Background()
			st, _ := s.Stamp(ctx, []string{"table:t"})
			for i := range n {
				if err := s.Set(ctx, fmt.Sprint(i), i, 8, 0, st); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := s.InvalidateTags(ctx, "table:t"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLookupHitSerial is one goroutine's hit, as on a database/sql
// connection: the store's own cost without contention.
func BenchmarkLookupHitSerial(b *testing.B) {
	s := newStore(b, nil)
	put(b, s, "SELECT * FROM users WHERE id = ?\x001", "row", "table:users")
	ctx := context.Background()
	tags := []string{"table:users"}
	b.ReportAllocs()
	for b.Loop() {
		if _, hit, _, _ := s.Lookup(ctx, "SELECT * FROM users WHERE id = ?\x001", tags); !hit {
			b.Fatal("miss")
		}
	}
}
