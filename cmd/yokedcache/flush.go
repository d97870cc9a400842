package main

import (
	"bufio"
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/spf13/cobra"
)

func newFlushCmd(e *env) *cobra.Command {
	var (
		tags           []string
		pattern, key   string
		all            bool
		force, dryRun  bool
		confirmAnswers bool
	)
	cmd := &cobra.Command{
		Use:   "flush (--tags T,... | --pattern GLOB | --key KEY | --all)",
		Short: "Invalidate tags, a pattern, one key or the whole namespace of the shared store",
		Long: `flush removes cached results from the shared (Redis) store. Exactly one of:

  --tags a,b       invalidate every entry carrying tag a or b (one version bump
                   per tag, whatever the number of entries)
  --pattern GLOB   invalidate every tag matching GLOB and delete every key
                   matching it (walks the namespace with SCAN: cost grows with
                   the size of the cache)
  --key KEY        delete one entry (as list prints it)
  --all            remove every entry and tag version of the namespace

It is destructive, so it asks for confirmation on a terminal. --force (or
--confirm) skips the question; without a terminal and without --force it
refuses. --dry-run shows what would go and changes nothing.`,
		Example: `  yokedcache flush --tags table:users --confirm
  yokedcache flush --pattern 'user:*' --dry-run
  YOKED_STORE=redis://127.0.0.1:6379 yokedcache flush --all --force`,
		Args: noArgs,
	}
	sf := addStoreFlags(cmd)
	format := addFormat(cmd)
	fl := cmd.Flags()
	fl.StringSliceVar(&tags, "tags", nil, "comma-separated tags to invalidate (table:users, user:42, ...)")
	fl.StringVar(&pattern, "pattern", "", "glob of tags and keys to invalidate (*, ?, [...])")
	fl.StringVar(&key, "key", "", "one cache key to delete")
	fl.BoolVar(&all, "all", false, "flush the whole namespace")
	fl.BoolVar(&force, "force", false, "do not ask for confirmation")
	fl.BoolVar(&confirmAnswers, "confirm", false, "same as --force")
	fl.BoolVar(&dryRun, "dry-run", false, "show what would be flushed, change nothing")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkFormat(*format); err != nil {
			return err
		}
		n := 0
		for _, set := range []bool{len(tags) > 0, pattern != "", key != "", all} {
			if set {
				n++
			}
		}
		if n != 1 {
			return usagef("flush needs exactly one of --tags, --pattern, --key or --all")
		}
		for _, t := range tags {
			if strings.TrimSpace(t) == "" {
				return usagef("--tags has an empty tag")
			}
		}
		if pattern != "" {
			if _, err := path.Match(pattern, ""); err != nil {
				return usagef("--pattern %q is not a valid glob: %v", pattern, err)
			}
		}
		k, err := parseKey(key)
		if err != nil {
			return err
		}
		force = force || confirmAnswers
		if !dryRun && !force && !e.isTerminal() {
			return usagef("refusing to flush without a terminal to confirm on: pass --force (or --confirm) to flush anyway, or --dry-run to see what would go")
		}
		ctx := cmd.Context()
		st, err := sf.open(ctx, e)
		if err != nil {
			return err
		}
		defer st.Close()
		op := flushOp{tags: tags, pattern: pattern, key: k, all: all}
		rep := flushReport{Namespace: st.namespace, Address: st.addr, Target: op.describe(), DryRun: dryRun}
		if dryRun {
			if err := op.preview(ctx, st, &rep); err != nil {
				return fmt.Errorf("dry run: %w", err)
			}
			return rep.write(e, *format)
		}
		if !force {
			fmt.Fprintf(e.stderr, "Flush %s in namespace %q at %s? [y/N] ", rep.Target, st.namespace, st.addr)
			line, _ := bufio.NewReader(e.stdin).ReadString('\n')
			if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
				return fmt.Errorf("flush cancelled, nothing changed")
			}
		}
		if err := op.do(ctx, st, &rep); err != nil {
			return err
		}
		return rep.write(e, *format)
	}
	return cmd
}

// flushReport is flush's output (JSON schema in docs/cli.md).
type flushReport struct {
	Namespace string   `json:"namespace"`
	Address   string   `json:"address"`
	Target    string   `json:"target"`
	DryRun    bool     `json:"dry_run"`
	Tags      []string `json:"tags,omitempty"` // tags invalidated (or that would be)
	Keys      []string `json:"keys,omitempty"` // keys deleted (or that would be), dry run only
	Touched   int      `json:"touched"`        // tags + keys affected
	Complete  bool     `json:"complete"`       // false when the lists were cut short
	Note      string   `json:"note,omitempty"` // what the numbers mean
}

func (r *flushReport) write(e *env, format string) error {
	if format == formatJSON {
		return writeJSON(e.stdout, r)
	}
	verb := "flushed"
	if r.DryRun {
		verb = "would flush"
	}
	fmt.Fprintf(e.stdout, "%s %s in namespace %q at %s: %d tag(s)/key(s)\n", verb, r.Target, r.Namespace, r.Address, r.Touched)
	for _, t := range r.Tags {
		fmt.Fprintf(e.stdout, "  tag %s\n", t)
	}
	for _, k := range r.Keys {
		fmt.Fprintf(e.stdout, "  key %s\n", showKey(k))
	}
	if !r.Complete {
		fmt.Fprintln(e.stdout, "  ... (list cut short)")
	}
	if r.Note != "" {
		fmt.Fprintln(e.stdout, r.Note)
	}
	return nil
}

type flushOp struct {
	tags    []string
	pattern string
	key     string
	all     bool
}

func (op flushOp) describe() string {
	switch {
	case len(op.tags) > 0:
		return "tags " + strings.Join(op.tags, ",")
	case op.pattern != "":
		return "pattern " + op.pattern
	case op.key != "":
		return "key " + showKey(op.key)
	}
	return "everything"
}

// previewLimit bounds the names a dry run lists.
const previewLimit = 1000

func (op flushOp) preview(ctx context.Context, st *opened, rep *flushReport) error {
	rep.Complete = true
	switch {
	case len(op.tags) > 0:
		rep.Tags = op.tags
		rep.Touched = len(op.tags)
		rep.Note = "each tag gets a new version: every entry stored under it stops being served"
	case op.key != "":
		if strings.HasPrefix(op.key, hashedPrefix) {
			return usagef("%s is an over-long key stored hashed: remove it with flush --pattern or --all", op.key)
		}
		_, found, err := st.store.Inspect(ctx, op.key)
		if err != nil {
			return err
		}
		if found {
			rep.Keys, rep.Touched = []string{op.key}, 1
		}
	default:
		glob := op.pattern
		if op.all {
			glob = "*"
		}
		// One more than listed tells whether the list is complete.
		tags, err := st.store.Tags(ctx, glob, previewLimit+1)
		if err != nil {
			return err
		}
		infos, err := st.store.Keys(ctx, glob, previewLimit+1)
		if err != nil {
			return err
		}
		keys := make([]string, len(infos))
		for i, in := range infos {
			keys[i] = keyName(in)
		}
		rep.Touched = len(tags) + len(keys)
		rep.Complete = len(tags) <= previewLimit && len(keys) <= previewLimit
		rep.Tags, rep.Keys = capList(tags), capList(keys)
		if op.pattern != "" {
			rep.Note = "over-long keys are stored hashed and are deleted by every pattern flush"
		}
		if op.all && !rep.Complete {
			if rep.Touched, err = countAll(ctx, st); err != nil {
				return err
			}
		}
	}
	return nil
}

// countAll counts what flush --all removes: every entry, and every tag that
// has a version (the namespace's own version, which Tags leaves out, is not
// counted).
func countAll(ctx context.Context, st *opened) (int, error) {
	tags, err := st.store.Tags(ctx, "*", 0)
	if err != nil {
		return 0, err
	}
	entries, _, _, err := st.store.Usage(ctx)
	if err != nil {
		return 0, err
	}
	return len(tags) + int(entries), nil
}

func capList(s []string) []string {
	if len(s) > previewLimit {
		return s[:previewLimit]
	}
	return s
}

func (op flushOp) do(ctx context.Context, st *opened, rep *flushReport) error {
	rep.Complete = true
	switch {
	case len(op.tags) > 0:
		if err := st.store.InvalidateTags(ctx, op.tags...); err != nil {
			return fmt.Errorf("invalidating tags: %w", err)
		}
		rep.Tags, rep.Touched = op.tags, len(op.tags)
	case op.pattern != "":
		n, err := st.store.InvalidatePattern(ctx, op.pattern)
		if err != nil {
			return err
		}
		rep.Touched = n
	case op.key != "":
		if strings.HasPrefix(op.key, "sha256:") {
			return usagef("%s is an over-long key stored hashed: remove it with flush --pattern or --all", op.key)
		}
		_, found, err := st.store.Inspect(ctx, op.key)
		if err != nil {
			return err
		}
		if err := st.store.Delete(ctx, op.key); err != nil {
			return fmt.Errorf("deleting key: %w", err)
		}
		if found {
			rep.Keys, rep.Touched = []string{op.key}, 1
		} else {
			rep.Note = "the key was not stored"
		}
	default:
		// Counted just before: what others store meanwhile goes too, uncounted.
		n, err := countAll(ctx, st)
		if err != nil {
			return err
		}
		if err := st.store.Flush(ctx); err != nil {
			return err
		}
		rep.Touched = n
		rep.Note = "every entry and tag version of the namespace was removed"
	}
	return nil
}
