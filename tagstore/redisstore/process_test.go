package redisstore

import (
	"bufio"
	"context"
	"fmt"
	"github.com/yokedcache/yoked/internal/testenv"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/yokedcache/yoked/tagstore/memory"
)

// childEnv, when set to "addr namespace l1", makes TestChildProcess serve
// "get <key> <tag>" lines from stdin, answering "hit <value>" or "miss".
const childEnv = "YOKED_REDISSTORE_CHILD"

func TestChildProcess(t *testing.T) {
	spec := os.Getenv(childEnv)
	if spec == "" {
		t.Skip("helper process for TestTwoProcesses")
	}
	var addr, ns string
	var l1 bool
	if _, err := fmt.Sscan(spec, &addr, &ns, &l1); err != nil {
		t.Fatal(err)
	}
	opt := Options{Namespace: ns, Timeout: 2 * time.Second, L1Fence: 500 * time.Millisecond}
	if l1 {
		m, err := memory.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		opt.L1 = m
	}
	s, err := NewFromURL("redis://"+addr, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if l1 {
		waitFor(t, "L1 subscribed", func() bool { return s.RedisStats().L1Enabled })
	}
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var key, tag string
		if _, err := fmt.Sscanf(in.Text(), "get %s %s", &key, &tag); err != nil {
			t.Fatal(err)
		}
		before := s.RedisStats().L1Hits
		v, hit, _, err := s.Lookup(context.Background(), key, []string{tag})
		switch {
		case err != nil:
			fmt.Println("error", err)
		case !hit:
			fmt.Println("miss")
		case s.RedisStats().L1Hits > before:
			fmt.Println("l1hit", string(v.([]byte)))
		default:
			fmt.Println("hit", string(v.([]byte)))
		}
	}
}

// Process A (this test) writes and invalidates; process B (the test binary
// re-executed) reads through its own Store on the same Redis.
func TestTwoProcesses(t *testing.T) {
	addr := testenv.Redis(t)
	for _, l1 := range []bool{false, true} {
		t.Run(fmt.Sprintf("L1=%v", l1), func(t *testing.T) {
			var a *Store
			if l1 {
				a = newL1Store(t, addr, Options{Timeout: 2 * time.Second})
			} else {
				a = newTestStore(t, addr, Options{Timeout: 2 * time.Second})
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestChildProcess$", "-test.v=false")
			cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s %v", childEnv, addr, a.opt.Namespace, l1))
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = stdin.Close(); _ = cmd.Wait() })
			out := bufio.NewReader(stdout)
			read := func() string {
				t.Helper()
				line, err := out.ReadString('\n')
				if err != nil && err != io.EOF {
					t.Fatal(err)
				}
				return strings.TrimSpace(line)
			}
			ask := func() string {
				t.Helper()
				fmt.Fprintln(stdin, "get k t")
				return read()
			}
			if got := read(); got != "ready" {
				t.Fatalf("child: %q", got)
			}
			if l1 {
				waitWarm(t, a)
			}

			// Every round: B holds the entry (in its L1 when it has one),
			// A invalidates, and B's very next read must miss. No delay
			// is allowed: InvalidateTags returning is the promise.
			for round := range 20 {
				v := fmt.Sprint("v", round)
				put(t, a, "k", v, "t")
				if got := ask(); got != "hit "+v {
					t.Fatalf("round %d: B after A's write: %q", round, got)
				}
				if l1 {
					if got := ask(); got != "l1hit "+v {
						t.Fatalf("round %d: B's second read: %q, want an L1 hit", round, got)
					}
				}
				if err := a.InvalidateTags(context.Background(), "t"); err != nil {
					t.Fatal(err)
				}
				if got := ask(); got != "miss" {
					t.Fatalf("round %d: B right after A's invalidation: %q, want miss", round, got)
				}
			}
			if l1 && a.RedisStats().FenceWaits != 0 {
				t.Errorf("%d invalidations waited for the fence: B's acknowledgements were lost", a.RedisStats().FenceWaits)
			}
		})
	}
}
