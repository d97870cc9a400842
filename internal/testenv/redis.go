package testenv

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const startRedisCmd = `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no`

// Redis returns the address of the shared Redis (YOKED_TEST_REDIS, default
// 127.0.0.1:6379) after checking that it answers PING within a one-second
// dial, or skips t (fails it under CI) saying what to start. Tests sharing
// it must keep to their own keys (see Name) and never flush it.
func Redis(t testing.TB) string {
	t.Helper()
	addr := env("YOKED_TEST_REDIS", "127.0.0.1:6379")
	err := reachable("redis "+addr, func() error { return redisPing(addr, time.Second) })
	if err != nil {
		unavailable(t, "no Redis at %s (%v): start one with `%s`, or set YOKED_TEST_REDIS", addr, err, startRedisCmd)
	}
	return addr
}

// redisPing sends PING and wants PONG back (a loading or password-protected
// server fails it).
func redisPing(addr string, timeout time.Duration) error {
	reply, err := redisDo(addr, timeout, "PING")
	if err == nil && reply != "PONG" {
		err = fmt.Errorf("PING answered %q", reply)
	}
	return err
}

// redisDo runs one command on a fresh connection and returns a simple
// string, integer or bulk string reply; an error reply is an error. It is
// all testenv needs, and it keeps readiness polling free of client retries.
func redisDo(addr string, timeout time.Duration, args ...string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	var req bytes.Buffer
	fmt.Fprintf(&req, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&req, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write(req.Bytes()); err != nil {
		return "", err
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", errors.New(line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", fmt.Errorf("unexpected reply %q", line)
		}
		body := make([]byte, n+2)
		if _, err := io.ReadFull(r, body); err != nil {
			return "", err
		}
		return string(body[:n]), nil
	}
	return "", fmt.Errorf("unexpected reply %q", line)
}

// RedisServer is a private redis-server on a free loopback port, for tests
// that stop, restart, fill or reconfigure it. It is stopped at the cleanup
// of the test that started it. Its methods are for that test's goroutine.
type RedisServer struct {
	t    testing.TB
	addr string
	dir  string
	args []string

	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	out  *syncBuffer   // the server's log (stdout and stderr)
}

// Addr is host:port of the server.
func (s *RedisServer) Addr() string { return s.addr }

// Dir is the server's working directory (where dump.rdb and nodes.conf go).
func (s *RedisServer) Dir() string { return s.dir }

func needBinary(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		unavailable(t, "%s is not installed: apt-get install -y redis-server (it brings redis-server and redis-cli)", name)
	}
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free loopback port: %v", err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// StartRedis starts a private redis-server bound to 127.0.0.1 on a free
// port, in its own temporary directory, persisting nothing unless args say
// otherwise (args are redis-server options such as "--maxmemory", "1mb";
// they come last, so they override the defaults). It returns once the
// server answers PING. A missing redis-server binary skips t (fails it
// under CI).
func StartRedis(t testing.TB, args ...string) *RedisServer {
	t.Helper()
	needBinary(t, "redis-server")
	dir := t.TempDir()
	// The free port may be taken between probing and binding; try a few.
	var err error
	for range 3 {
		port := freePort(t)
		s := &RedisServer{t: t, addr: "127.0.0.1:" + port, dir: dir}
		s.args = append([]string{"--port", port, "--bind", "127.0.0.1", "--dir", dir,
			"--save", "", "--appendonly", "no", "--protected-mode", "no"}, args...)
		if err = s.start(); err == nil {
			t.Cleanup(s.Stop)
			return s
		}
		if !strings.Contains(err.Error(), "in use") {
			break
		}
	}
	t.Fatal(err)
	return nil
}

// Start starts the stopped server again, on the same port and directory (so
// a dump.rdb left there is loaded), and returns once it answers PING. It
// does nothing if the server is running.
func (s *RedisServer) Start() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatal(err)
	}
}

func (s *RedisServer) start() error {
	if s.cmd != nil {
		return nil
	}
	cmd := exec.Command("redis-server", s.args...)
	out := new(syncBuffer)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.cmd, s.done, s.out = cmd, done, out
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := redisPing(s.addr, 200*time.Millisecond)
		if err == nil {
			// Another process may have taken the port between probing and
			// binding; then the PONG is not from our server.
			if err = s.ours(); err == nil {
				return nil
			}
			s.Stop()
			return err
		}
		select {
		case <-done:
			s.cmd = nil
			return fmt.Errorf("redis-server %s exited before answering: %v\n%s", strings.Join(s.args, " "), cmd.ProcessState, out.String())
		default:
		}
		if time.Now().After(deadline) {
			s.Stop()
			return fmt.Errorf("redis-server on %s did not answer PING within 10 s (%v)\n%s", s.addr, err, out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ours checks that the server answering on addr is the process we started.
func (s *RedisServer) ours() error {
	info, err := redisDo(s.addr, time.Second, "INFO", "server")
	if err != nil {
		return err
	}
	want := "process_id:" + strconv.Itoa(s.cmd.Process.Pid) + "\r\n"
	if !strings.Contains(info, want) {
		return fmt.Errorf("port %s is in use by another Redis", s.addr)
	}
	return nil
}

// Stop kills the server (nothing is saved) and returns once it has exited.
// It does nothing if the server is stopped.
func (s *RedisServer) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Restart stops and starts the server.
func (s *RedisServer) Restart() {
	s.t.Helper()
	s.Stop()
	s.Start()
}

// Signal sends sig to the server process (SIGSTOP and SIGCONT make it hang
// and resume without closing connections). A stopped server returns
// os.ErrProcessDone.
func (s *RedisServer) Signal(sig os.Signal) error {
	if s.cmd == nil {
		return os.ErrProcessDone
	}
	return s.cmd.Process.Signal(sig)
}

// RedisCluster starts three cluster-enabled redis-server masters on free
// loopback ports, joins them with redis-cli --cluster create (no replicas),
// waits until every node reports cluster_state:ok and returns their
// addresses. All are stopped at cleanup. Missing binaries skip t (fail it
// under CI).
func RedisCluster(t testing.TB) []string {
	t.Helper()
	needBinary(t, "redis-cli")
	var addrs []string
	for range 3 {
		s := StartRedis(t, "--cluster-enabled", "yes", "--cluster-node-timeout", "5000")
		addrs = append(addrs, s.Addr())
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	deadline := time.Now().Add(15 * time.Second)
	for _, a := range addrs {
		for {
			info, err := redisDo(a, time.Second, "CLUSTER", "INFO")
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cluster node %s never reported cluster_state:ok: %v\n%s", a, err, info)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return addrs
}

// syncBuffer collects a child's output while the test may read it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
