package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/yokedcache/yoked/internal/testenv"
)

func TestWatchUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"watch", "--dialect", "postgres", "--store", "redis://127.0.0.1:1"}, nil, "--source is required"},
		{[]string{"watch", "--source", "postgres://x/y", "--store", "redis://127.0.0.1:1"}, nil, "--dialect is required"},
		{[]string{"watch", "--source", "postgres://x/y", "--dialect", "oracle", "--store", "redis://127.0.0.1:1"}, nil, "want postgres or mysql"},
		{[]string{"watch", "--source", "postgres://x/y", "--dialect", "postgres"}, map[string]string{"YOKED_STORE": "memory"}, "no shared store"},
		{[]string{"watch", "--source", "postgres://x/y", "--dialect", "postgres", "--store", "redis://127.0.0.1:1", "--slot", "Bad-Name"}, nil, "not a valid slot"},
		{[]string{"watch", "stray", "--source", "postgres://x/y", "--dialect", "postgres"}, nil, "takes no arguments"},
	} {
		r := runCmd(t, opts{env: tc.env}, tc.args...)
		if r.code != exitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", tc.args, r.code, exitUsage, r.stderr)
		}
		oneLineErr(t, r, tc.want)
	}
	r := runCmd(t, opts{}, "watch", "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "Examples:") || !strings.Contains(r.stdout, "SIGTERM") {
		t.Errorf("--help: %d %s", r.code, r.stdout)
	}
}

// The built command watches a private PostgreSQL, prints its status,
// serves metrics, and stops cleanly on SIGTERM.
func TestWatchPostgres(t *testing.T) {
	pg := testenv.StartPostgres(t)
	redisAddr := testenv.Redis(t)
	bin := filepath.Join(t.TempDir(), "yokedcache")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	metrics := "127.0.0.1:" + freeTCPPort(t)
	cmd := exec.Command(bin, "watch", "--dialect", "postgres", "--source", pg.URL(), "--interval", "100ms", "--metrics-addr", metrics)
	cmd.Env = append(os.Environ(), "YOKED_STORE=redis://"+redisAddr+"?l1=true&feed=1s", "YOKED_NAMESPACE="+testenv.Name("watch"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitLine := func(what string, match func(string) bool) string {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("output ended before %s", what)
				}
				if match(l) {
					return l
				}
			case <-deadline:
				t.Fatalf("no line with %s within 20 s", what)
			}
		}
	}
	waitLine("active status", func(l string) bool { return strings.Contains(l, " active slot=yoked position=") })
	ctx := context.Background()
	c, err := pgconn.Connect(ctx, pg.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 100)").ReadAll(); err != nil {
		t.Fatal(err)
	}
	waitLine("events", func(l string) bool { return strings.Contains(l, " active ") && !strings.Contains(l, "events/s=0 ") })

	resp, err := http.Get("http://" + metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{"yoked_changefeed_active 1", "yoked_changefeed_lag_seconds", "yoked_changefeed_events_total", "yoked_changefeed_invalidations_total", "yoked_changefeed_errors_total"} {
		if !strings.Contains(string(body), m) {
			t.Errorf("metrics lack %s:\n%s", m, body)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitLine("stopped", func(l string) bool { return l == "stopped" })
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not exit within 10 s of SIGTERM")
	}
}

func freeTCPPort(t *testing.T) string {
	t.Helper()
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := strings.Cut(l.Addr().String(), ":")
	return port
}
