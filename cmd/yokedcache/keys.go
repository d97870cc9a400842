package main

import (
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/yokedcache/yoked/tagstore/redisstore"
)

func newListCmd(e *env) *cobra.Command {
	var prefix, pattern string
	var limit int
	var long bool
	cmd := &cobra.Command{
		Use:   "list [--prefix P | --pattern GLOB] [--limit N] [--long]",
		Short: "List cache keys of the shared store",
		Long: `list prints the cache keys of the namespace (SCAN, so it walks the store).
Keys that are not printable text (the driver's keys are binary) are printed as
Go-quoted strings; get and delete accept them in that form. Keys longer than
256 bytes are stored hashed and listed as sha256:<hex> when no filter is given.
--long adds whether each entry is still valid (every tag it was stored under
still has that version), its remaining lifetime and size.`,
		Args: noArgs,
	}
	sf := addStoreFlags(cmd)
	format := addFormat(cmd)
	cmd.Flags().StringVar(&prefix, "prefix", "", "only keys starting with this")
	cmd.Flags().StringVar(&pattern, "pattern", "", "only keys matching this glob (*, ?, [...])")
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many keys (0: no limit)")
	cmd.Flags().BoolVarP(&long, "long", "l", false, "show validity, TTL and size of each key")
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
		ask := limit
		if limit > 0 {
			ask = limit + 1 // one more tells whether there are more
		}
		infos, err := st.store.Keys(cmd.Context(), glob, ask)
		if err != nil {
			return fmt.Errorf("listing keys: %w", err)
		}
		more := limit > 0 && len(infos) > limit
		if more {
			infos = infos[:limit]
		}
		keys := make([]string, len(infos))
		entries := make([]entryInfo, len(infos))
		for i, in := range infos {
			keys[i] = keyName(in)
			entries[i] = describeEntry(keys[i], in)
		}
		if *format == formatJSON {
			return writeJSON(e.stdout, struct {
				Namespace string      `json:"namespace"`
				Keys      []string    `json:"keys"`
				More      bool        `json:"more"`
				Entries   []entryInfo `json:"entries"`
			}{st.namespace, keys, more, entries})
		}
		for _, in := range entries {
			if long {
				fmt.Fprintf(e.stdout, "%-7s  %10v  %8d  %s\n", validWord(in.Valid), time.Duration(in.TTLms)*time.Millisecond, in.Bytes, showKey(in.Key))
			} else {
				fmt.Fprintln(e.stdout, showKey(in.Key))
			}
		}
		if more {
			fmt.Fprintf(e.stdout, "... more than %d keys; raise --limit\n", limit)
		}
		return nil
	}
	return cmd
}

// entryInfo is get's output and an element of list's "entries" (JSON
// schema in docs/cli.md).
type entryInfo struct {
	Key    string    `json:"key"`
	Found  bool      `json:"found"`
	TTLms  int64     `json:"ttl_ms,omitempty"`
	Bytes  int64     `json:"bytes,omitempty"`
	Format string    `json:"format,omitempty"`
	Hashed bool      `json:"hashed,omitempty"`
	Valid  bool      `json:"valid"`
	Reason string    `json:"reason,omitempty"`
	Tags   []tagInfo `json:"tags,omitempty"`
}

// tagInfo is one tag of an entry: its version when the entry was stored and
// now (hexadecimal tokens; "" when the tag has no version any more).
type tagInfo struct {
	Tag     string `json:"tag"`
	Stored  string `json:"stored"`
	Current string `json:"current"`
}

func describeEntry(key string, in redisstore.KeyInfo) entryInfo {
	out := entryInfo{Key: key, Found: true, TTLms: in.TTL.Milliseconds(), Bytes: in.Bytes,
		Format: "unknown", Hashed: in.Hashed, Valid: in.Valid, Reason: in.Reason}
	if in.Format > 0 {
		out.Format = fmt.Sprintf("yoked entry v%d", in.Format)
	}
	for _, t := range in.Tags {
		ti := tagInfo{Tag: t.Tag, Stored: strconv.FormatUint(t.Stored, 16)}
		if t.Current != 0 {
			ti.Current = strconv.FormatUint(t.Current, 16)
		}
		out.Tags = append(out.Tags, ti)
	}
	return out
}

func validWord(v bool) string {
	if v {
		return "valid"
	}
	return "invalid"
}

func newGetCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "get KEY",
		Short: "Show whether a cache key is stored and valid, its tags, lifetime and size",
		Long: `get looks one cache key up in the shared store (KEY as list prints it) and
shows whether it is stored, whether it is still valid (every tag it was
stored under still has the version it was stored with, so an application's
lookup would serve it), its tags with their stored and current versions, its
remaining lifetime and its size in bytes. Values are the driver's binary
encoding of a result and are not printed.
Exit status 1 when the key is not stored (a stored but invalid entry is not
an error).`,
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
		in, found, err := st.inspectKey(cmd.Context(), key)
		if err != nil {
			return fmt.Errorf("reading key: %w", err)
		}
		info := entryInfo{Key: key}
		if found {
			info = describeEntry(key, in)
		}
		if *format == formatJSON {
			if err := writeJSON(e.stdout, info); err != nil {
				return err
			}
		} else if info.Found {
			info.print(e.stdout)
		}
		if !info.Found {
			return fmt.Errorf("key %s is not in namespace %q", showKey(key), st.namespace)
		}
		return nil
	}
	return cmd
}

func (in entryInfo) print(w io.Writer) {
	fmt.Fprintf(w, "key     %s\nttl     %v\nbytes   %d\nformat  %s\n", showKey(in.Key), time.Duration(in.TTLms)*time.Millisecond, in.Bytes, in.Format)
	if in.Valid {
		fmt.Fprintln(w, "valid   yes")
	} else {
		fmt.Fprintf(w, "valid   no: %s\n", in.Reason)
	}
	for _, t := range in.Tags {
		state := "current"
		switch {
		case t.Current == "":
			state = "no version now"
		case t.Current != t.Stored:
			state = "invalidated, now " + t.Current
		}
		fmt.Fprintf(w, "tag     %s  stored %s  (%s)\n", t.Tag, t.Stored, state)
	}
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
		// The store's Delete does not say which keys were there: look first.
		deleted, absent := []string{}, []string{}
		for _, k := range keys {
			_, found, err := st.store.Inspect(cmd.Context(), k)
			if err != nil {
				return fmt.Errorf("reading key: %w", err)
			}
			if found {
				deleted = append(deleted, k)
			} else {
				absent = append(absent, k)
			}
		}
		if err := st.store.Delete(cmd.Context(), keys...); err != nil {
			return fmt.Errorf("deleting keys: %w", err)
		}
		if *format == formatJSON {
			return writeJSON(e.stdout, struct {
				Namespace string   `json:"namespace"`
				Deleted   []string `json:"deleted"`
				Absent    []string `json:"absent"`
			}{st.namespace, deleted, absent})
		}
		fmt.Fprintf(e.stdout, "deleted %d key(s) from namespace %q", len(deleted), st.namespace)
		if len(absent) > 0 {
			shown := make([]string, len(absent))
			for i, k := range absent {
				shown[i] = showKey(k)
			}
			fmt.Fprintf(e.stdout, "; not stored: %s", strings.Join(shown, " "))
		}
		fmt.Fprintln(e.stdout)
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
