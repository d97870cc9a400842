package cgofree_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/yokedcache/yoked/internal/testenv"
)

// build runs `go build` of testdata/prog without cgo for goos/goarch and
// returns the binary's path. The build cache is the user's, so only the
// first run compiles everything.
func build(t *testing.T, prog, goos, goarch string) string {
	t.Helper()
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not on PATH: %v", err)
	}
	out := filepath.Join(t.TempDir(), prog)
	cmd := exec.Command(gotool, "build", "-o", out, "./testdata/"+prog)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch, "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 GOOS=%s GOARCH=%s go build ./testdata/%s: %v\n%s", goos, goarch, prog, err, b)
	}
	return out
}

// run runs a program built for this machine with the DSN it is to use.
func run(t *testing.T, bin, dsn string) {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "YOKED_STORY_DSN="+dsn)
	b, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(b)) != "ok" {
		t.Fatalf("%s: %v\n%s", filepath.Base(bin), err, b)
	}
}

// Each program builds without cgo and, run, tells the whole story against
// its real database: miss, hit, write, fresh value, hit.
func TestBuildsAndRunsWithoutCgo(t *testing.T) {
	for _, c := range []struct {
		prog string
		dsn  func(t *testing.T) string
	}{
		{"pgx", func(t *testing.T) string { return testenv.PostgresSchema(t) }},
		{"mysql", func(t *testing.T) string { return testenv.MySQLDatabase(t) }},
		{"sqlite", func(t *testing.T) string { return "file:" + filepath.Join(t.TempDir(), "story.db") }},
	} {
		t.Run(c.prog, func(t *testing.T) {
			bin := build(t, c.prog, runtime.GOOS, runtime.GOARCH)
			run(t, bin, c.dsn(t))
		})
	}
}

// The programs cross-compile without a C toolchain for the usual targets of
// static images and laptops: pgx (whose parser runs on wazero, which has
// code per architecture and system) for linux/arm64 and darwin/arm64, mysql
// (pure Go throughout) for linux/arm64. Each link takes a while on a busy
// machine, so the list is short.
func TestCrossCompilesWithoutCgo(t *testing.T) {
	for _, c := range []struct{ prog, goos, goarch string }{
		{"pgx", "linux", "arm64"}, {"pgx", "darwin", "arm64"}, {"mysql", "linux", "arm64"},
	} {
		t.Run(c.prog+"/"+c.goos+"_"+c.goarch, func(t *testing.T) {
			build(t, c.prog, c.goos, c.goarch)
		})
	}
}
