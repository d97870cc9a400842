package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailed  = 1
	exitUsage   = 2
	formatTable = "table"
	formatJSON  = "json"
)

// usageError is an error in the command line (or a request the command
// cannot serve from its own process): exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// env gives the verbs their streams and the environment, so that tests run
// the command in-process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// isTerminal reports whether stdin is an interactive terminal.
	isTerminal func() bool
	// stderrTerminal reports whether stderr is a terminal (progress bars).
	stderrTerminal func() bool
}

// run executes the command line args and returns the exit status. It never
// panics on bad input and prints errors as one line on stderr.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runEnv(args, defaultEnv(stdin, stdout, stderr))
}

func defaultEnv(stdin io.Reader, stdout, stderr io.Writer) *env {
	fdTerminal := func(v any) func() bool {
		return func() bool {
			f, ok := v.(*os.File)
			return ok && term.IsTerminal(int(f.Fd()))
		}
	}
	return &env{
		stdin: stdin, stdout: stdout, stderr: stderr,
		getenv:         os.Getenv,
		isTerminal:     fdTerminal(stdin),
		stderrTerminal: fdTerminal(stderr),
	}
}

func runEnv(args []string, e *env) int {
	redis.SetLogger(quietRedis{})
	root := newRoot(e)
	root.SetArgs(args)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(e.stderr, "yokedcache: "+oneLine(err.Error()))
	if isUsage(err) {
		return exitUsage
	}
	return exitFailed
}

func isUsage(err error) bool {
	var ue usageError
	if errors.As(err, &ue) {
		return true
	}
	// Cobra's own command-line errors are plain errors.
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "flag needs an argument", "invalid argument", "required flag", "accepts ", "requires at least", "if any flags in the group"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "yokedcache",
		Short: "Inspect and operate a yoked cache",
		Long: `yokedcache operates a yoked cache from the shell: flush, list, get and delete
entries of a shared Redis store, show its counters, explain how yoked sees a
SQL statement, run the demo, and compare a database with and without the cache.

Exit status: 0 success, 1 the operation failed, 2 usage error (or an
operation that needs a shared store when only the in-process memory store is
configured).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(
		newDemoCmd(e),
		newFlushCmd(e),
		newStatsCmd(e),
		newListCmd(e),
		newGetCmd(e),
		newDeleteCmd(e),
		newPingCmd(e),
		newExplainCmd(e),
		newBenchCmd(e),
		newWatchCmd(e),
	)
	return root
}

// noArgs rejects positional arguments as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q (see %s --help)", cmd.CommandPath(), args[0], cmd.CommandPath())
	}
	return nil
}

// addFormat adds --format and returns where its value lands.
func addFormat(cmd *cobra.Command) *string {
	f := new(string)
	cmd.Flags().StringVar(f, "format", formatTable, "output format: table or json")
	return f
}

func checkFormat(f string) error {
	if f != formatTable && f != formatJSON {
		return usagef("--format must be table or json, not %q", f)
	}
	return nil
}

// report is a verb's result that can print itself as a table.
type report interface{ print(io.Writer) }

// emit writes r in the chosen format.
func emit(e *env, format string, r report) error {
	if format == formatJSON {
		return writeJSON(e.stdout, r)
	}
	r.print(e.stdout)
	return nil
}
