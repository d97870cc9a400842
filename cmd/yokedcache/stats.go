package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
)

// storeStats is stats's output (JSON schema in docs/cli.md). The hit, miss,
// invalidation and error counters live in each application process (the
// Redis store keeps none in Redis), so the command cannot report them: they
// are listed in Unavailable and left null in JSON.
type storeStats struct {
	Time          time.Time `json:"time"`
	Namespace     string    `json:"namespace"`
	Address       string    `json:"address"`
	Entries       int64     `json:"entries"`
	Bytes         int64     `json:"bytes"`
	Tags          int64     `json:"tags"`
	RedisMemory   int64     `json:"redis_used_memory"` // whole server, -1 if unknown
	Hits          *uint64   `json:"hits"`
	Misses        *uint64   `json:"misses"`
	HitRatio      *float64  `json:"hit_ratio"`
	Invalidations *uint64   `json:"invalidations"`
	Errors        *uint64   `json:"errors"`
	Unavailable   []string  `json:"unavailable,omitempty"`
}

func newStatsCmd(e *env) *cobra.Command {
	var watch time.Duration
	var count int
	cmd := &cobra.Command{
		Use:   "stats [--watch DURATION]",
		Short: "Show the shared store's size: entries, bytes, tags, Redis memory",
		Long: `stats walks the namespace of the shared store (SCAN) and reports how many
entries and tag versions it holds, their size, and the memory the Redis
server uses. With --watch it repeats every DURATION until interrupted (or
--count reports).

Hits, misses, hit ratio, invalidations and errors are counted inside each
application (driver.CacheOf(db).Stats(), or the Prometheus collector in
metrics/prom); the Redis store does not keep them in Redis, so stats shows
them as unavailable rather than inventing numbers.`,
		Args: noArgs,
	}
	sf := addStoreFlags(cmd)
	format := addFormat(cmd)
	cmd.Flags().DurationVar(&watch, "watch", 0, "repeat every DURATION (e.g. 5s) until interrupted")
	cmd.Flags().IntVar(&count, "count", 0, "with --watch, stop after this many reports (0: until interrupted)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkFormat(*format); err != nil {
			return err
		}
		if watch < 0 || (watch > 0 && watch < 100*time.Millisecond) {
			return usagef("--watch must be at least 100ms")
		}
		if count < 0 {
			return usagef("--count must not be negative")
		}
		ctx := cmd.Context()
		st, err := sf.open(ctx, e)
		if err != nil {
			return err
		}
		defer st.Close()
		for n := 1; ; n++ {
			s, err := st.stats(ctx)
			if err != nil {
				return fmt.Errorf("reading stats: %w", err)
			}
			if *format == formatJSON {
				if err := writeJSON(e.stdout, s); err != nil {
					return err
				}
			} else {
				s.print(e, n == 1)
			}
			if watch == 0 || (count > 0 && n >= count) {
				return nil
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(watch):
			}
		}
	}
	return cmd
}

func (s *storeStats) print(e *env, header bool) {
	if header {
		fmt.Fprintf(e.stdout, "namespace %q at %s\n", s.Namespace, s.Address)
		fmt.Fprintf(e.stdout, "%-8s  %10s  %12s  %8s  %14s\n", "time", "entries", "bytes", "tags", "redis memory")
	}
	mem := "?"
	if s.RedisMemory >= 0 {
		mem = strconv.FormatInt(s.RedisMemory, 10)
	}
	fmt.Fprintf(e.stdout, "%-8s  %10d  %12d  %8d  %14s\n", s.Time.Format("15:04:05"), s.Entries, s.Bytes, s.Tags, mem)
	if header {
		fmt.Fprintf(e.stdout, "(unavailable from the command: %s; they are counted in each application)\n", strings.Join(s.Unavailable, ", "))
	}
}

func (o *opened) stats(ctx context.Context) (*storeStats, error) {
	s := &storeStats{Time: time.Now(), Namespace: o.namespace, Address: o.addr, RedisMemory: -1,
		Unavailable: []string{"hits", "misses", "hit_ratio", "invalidations", "errors"}}
	err := o.scanKeys(ctx, o.entryPrefix()+"*", func(c redis.Cmdable, keys []string) bool {
		s.Entries += int64(len(keys))
		pipe := c.Pipeline()
		lens := make([]*redis.IntCmd, len(keys))
		for i, k := range keys {
			lens[i] = pipe.StrLen(ctx, k)
		}
		_, _ = pipe.Exec(ctx)
		for _, l := range lens {
			s.Bytes += l.Val()
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	err = o.scanKeys(ctx, o.versionPrefix()+"*", func(_ redis.Cmdable, keys []string) bool {
		s.Tags += int64(len(keys))
		return true
	})
	if err != nil {
		return nil, err
	}
	if info, err := o.store.Client().Info(ctx, "memory").Result(); err == nil {
		for _, line := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
				if n, err := strconv.ParseInt(v, 10, 64); err == nil {
					s.RedisMemory = n
				}
			}
		}
	}
	return s, nil
}
