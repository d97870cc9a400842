package main

import (
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
)

func newListCmd(e *env) *cobra.Command {
	var prefix, pattern string
	var limit int
	cmd := &cobra.Command{
		Use:   "list [--prefix P | --pattern GLOB] [--limit N]",
		Short: "List cache keys of the shared store",
		Long: `list prints the cache keys of the namespace (SCAN, so it walks the store).
Keys that are not printable text (the driver's keys are binary) are printed as
Go-quoted strings; get and delete accept them in that form. Keys longer than
256 bytes are stored hashed and listed as sha256:<hex> when no filter is given.`,
		Args: noArgs,
	}
	sf := addStoreFlags(cmd)
	format := addFormat(cmd)
	cmd.Flags().StringVar(&prefix, "prefix", "", "only keys starting with this")
	cmd.Flags().StringVar(&pattern, "pattern", "", "only keys matching this glob (*, ?, [...])")
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many keys (0: no limit)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkFormat(*format); err != nil {
			return err
		}
		if prefix != "" && pattern != "" {
			return usagef("give --prefix or --pattern, not both")
		}
		if limit < 0 {
			return usagef("--limit must not be negative")
		}
		glob := globFor(prefix, pattern)
		if _, err := path.Match(glob, ""); err != nil {
			return usagef("--pattern %q is not a valid glob: %v", pattern, err)
		}
		st, err := sf.open(cmd.Context(), e)
		if err != nil {
			return err
		}
		defer st.Close()
		keys, more, err := st.matchEntries(cmd.Context(), glob, limit)
		if err != nil {
			return fmt.Errorf("listing keys: %w", err)
		}
		if *format == formatJSON {
			return writeJSON(e.stdout, struct {
				Namespace string   `json:"namespace"`
				Keys      []string `json:"keys"`
				More      bool     `json:"more"`
			}{st.namespace, append([]string{}, keys...), more})
		}
		for _, k := range keys {
			fmt.Fprintln(e.stdout, showKey(k))
		}
		if more {
			fmt.Fprintf(e.stdout, "... more than %d keys; raise --limit\n", limit)
		}
		return nil
	}
	return cmd
}

// entryInfo is get's output (JSON schema in docs/cli.md).
type entryInfo struct {
	Key    string `json:"key"`
	Found  bool   `json:"found"`
	TTLms  int64  `json:"ttl_ms,omitempty"`
	Bytes  int64  `json:"bytes,omitempty"`
	Format string `json:"format,omitempty"`
}

func newGetCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "get KEY",
		Short: "Show whether a cache key is stored, its remaining lifetime and size",
		Long: `get looks one cache key up in the shared store (KEY as list prints it) and
shows whether it is stored, its remaining lifetime and its size in bytes.
Whether the entry is still valid depends on its tags' versions, which only
a lookup with the entry's tags can tell; values are the driver's binary
encoding of a result and are not printed.
Exit status 1 when the key is not stored.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("get takes exactly one KEY, got %d arguments", len(args))
			}
			return nil
		},
	}
	sf := addStoreFlags(cmd)
	format := addFormat(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkFormat(*format); err != nil {
			return err
		}
		key, err := parseKey(args[0])
		if err != nil {
			return err
		}
		st, err := sf.open(cmd.Context(), e)
		if err != nil {
			return err
		}
		defer st.Close()
		ctx := cmd.Context()
		rk := st.redisKey(key)
		pipe := st.store.Client().Pipeline()
		ttl := pipe.PTTL(ctx, rk)
		size := pipe.StrLen(ctx, rk)
		head := pipe.GetRange(ctx, rk, 0, 1)
		if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
			return fmt.Errorf("reading key: %w", err)
		}
		info := entryInfo{Key: key, Found: size.Val() > 0}
		if info.Found {
			info.TTLms = ttl.Val().Milliseconds()
			info.Bytes = size.Val()
			if h := head.Val(); len(h) == 2 && h[0] == 'Y' {
				info.Format = fmt.Sprintf("yoked entry v%d", h[1])
			} else {
				info.Format = "unknown"
			}
		}
		if *format == formatJSON {
			if err := writeJSON(e.stdout, info); err != nil {
				return err
			}
		} else if info.Found {
			fmt.Fprintf(e.stdout, "key     %s\nttl     %v\nbytes   %d\nformat  %s\n", showKey(key), time.Duration(info.TTLms)*time.Millisecond, info.Bytes, info.Format)
		}
		if !info.Found {
			return fmt.Errorf("key %s is not in namespace %q", showKey(key), st.namespace)
		}
		return nil
	}
	return cmd
}

func newDeleteCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "delete KEY...",
		Short: "Delete cache keys from the shared store",
		Long: `delete removes the entries under the given keys (as list prints them).
Absent keys are not an error. To drop everything a table or entity cached,
use flush --tags instead: it also covers entries other processes are about
to store.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("delete needs at least one KEY")
			}
			return nil
		},
	}
	sf := addStoreFlags(cmd)
	format := addFormat(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkFormat(*format); err != nil {
			return err
		}
		keys := make([]string, len(args))
		for i, a := range args {
			k, err := parseKey(a)
			if err != nil {
				return err
			}
			if strings.HasPrefix(k, "sha256:") {
				return usagef("%s is an over-long key stored hashed: remove it with flush --pattern or --all", k)
			}
			keys[i] = k
		}
		st, err := sf.open(cmd.Context(), e)
		if err != nil {
			return err
		}
		defer st.Close()
		if err := st.store.Delete(cmd.Context(), keys...); err != nil {
			return fmt.Errorf("deleting keys: %w", err)
		}
		if *format == formatJSON {
			return writeJSON(e.stdout, struct {
				Namespace string   `json:"namespace"`
				Deleted   []string `json:"deleted"`
			}{st.namespace, keys})
		}
		fmt.Fprintf(e.stdout, "deleted %d key(s) from namespace %q\n", len(keys), st.namespace)
		return nil
	}
	return cmd
}

func newPingCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ping",
		Short: "Check that the shared store answers",
		Long:  "ping connects to the configured Redis and reports the round-trip time, or which address it could not reach (exit 1).",
		Args:  noArgs,
	}
	sf := addStoreFlags(cmd)
	format := addFormat(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkFormat(*format); err != nil {
			return err
		}
		t0 := time.Now()
		st, err := sf.open(cmd.Context(), e)
		if err != nil {
			return err
		}
		defer st.Close()
		rtt := time.Since(t0)
		if *format == formatJSON {
			return writeJSON(e.stdout, struct {
				Address string `json:"address"`
				OK      bool   `json:"ok"`
				RTTus   int64  `json:"rtt_us"`
			}{st.addr, true, rtt.Microseconds()})
		}
		fmt.Fprintf(e.stdout, "Redis at %s answered in %v\n", st.addr, rtt.Round(time.Microsecond))
		return nil
	}
	return cmd
}
