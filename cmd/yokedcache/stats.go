package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// storeStats is stats's output (JSON schema in docs/cli.md). Entries, bytes
// and tags come from a walk of the namespace (redisstore's Usage); hits,
// misses, sets, deletes, invalidations and errors are the counters every
// process using the namespace pushes into Redis (redisstore's SharedStats).
// A counter the command could not read is null in JSON and named in
// Unavailable; the hit ratio is null before the first lookup.
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
	Sets          *uint64   `json:"sets"`
	Deletes       *uint64   `json:"deletes"`
	Unavailable   []string  `json:"unavailable,omitempty"`
}

func newStatsCmd(e *env) *cobra.Command {
	var watch time.Duration
	var count int
	cmd := &cobra.Command{
		Use:   "stats [--watch DURATION]",
		Short: "Show the shared store's size and the traffic of every process using it",
		Long: `stats walks the namespace of the shared store (SCAN) and reports how many
entries and tag versions it holds, their size (STRLEN of each entry), and the
memory the Redis server uses; and the hits, misses, hit ratio, sets,
deletes, invalidations and errors of every process using the namespace,
summed in Redis (each process pushes its counts about once a second and when
it closes the store, so they lag by up to a second). With --watch it repeats
every DURATION until interrupted (or --count reports).`,
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
		fmt.Fprintf(e.stdout, "%-8s  %10s  %12s  %8s  %14s  %10s  %10s  %6s  %10s  %8s\n",
			"time", "entries", "bytes", "tags", "redis memory", "hits", "misses", "ratio", "invalid.", "errors")
	}
	mem := "?"
	if s.RedisMemory >= 0 {
		mem = strconv.FormatInt(s.RedisMemory, 10)
	}
	ratio := "-"
	if s.HitRatio != nil {
		ratio = strconv.FormatFloat(*s.HitRatio*100, 'f', 1, 64) + "%"
	}
	fmt.Fprintf(e.stdout, "%-8s  %10d  %12d  %8d  %14s  %10s  %10s  %6s  %10s  %8s\n", s.Time.Format("15:04:05"),
		s.Entries, s.Bytes, s.Tags, mem, count(s.Hits), count(s.Misses), ratio, count(s.Invalidations), count(s.Errors))
	if len(s.Unavailable) > 0 {
		fmt.Fprintf(e.stdout, "(unavailable: %s)\n", strings.Join(s.Unavailable, ", "))
	}
}

// count prints a counter that may be unavailable.
func count(n *uint64) string {
	if n == nil {
		return "?"
	}
	return strconv.FormatUint(*n, 10)
}

func (o *opened) stats(ctx context.Context) (*storeStats, error) {
	s := &storeStats{Time: time.Now(), Namespace: o.namespace, Address: o.addr, RedisMemory: -1}
	var err error
	if s.Entries, s.Tags, s.Bytes, err = o.store.Usage(ctx); err != nil {
		return nil, err
	}
	if c, err := o.store.SharedStats(ctx); err == nil {
		s.Hits, s.Misses, s.Invalidations, s.Errors = &c.Hits, &c.Misses, &c.Invalidations, &c.Errors
		s.Sets, s.Deletes = &c.Sets, &c.Deletes
		if n := c.Hits + c.Misses; n > 0 {
			r := float64(c.Hits) / float64(n)
			s.HitRatio = &r
		}
	} else {
		s.Unavailable = []string{"hits", "misses", "hit_ratio", "invalidations", "errors", "sets", "deletes"}
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
