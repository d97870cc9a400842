package testenv

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const startRedisCmd = `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no`

var (
	redisOnce sync.Once
	redisErr  error
)

// Redis returns the address of the shared Redis (YOKED_TEST_REDIS, default
// 127.0.0.1:6379), or skips t (fails it under CI). Tests sharing it must use
// their own namespace (see Name).
func Redis(t testing.TB) string {
	t.Helper()
	addr := env("YOKED_TEST_REDIS", "127.0.0.1:6379")
	redisOnce.Do(func() {
		c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second, MaxRetries: -1})
		defer c.Close()
		redisErr = c.Ping(context.Background()).Err()
	})
	if redisErr != nil {
		unavailable(t, "no Redis at %s (%v): start one with `%s`, or set YOKED_TEST_REDIS", addr, redisErr, startRedisCmd)
	}
	return addr
}

// RedisServer is a private redis-server on a free loopback port, for tests
// that stop, restart, fill or reconfigure it. It is stopped at cleanup.
type RedisServer struct {
	t    testing.TB
	addr string
	dir  string
	args []string
	cmd  *exec.Cmd
}

// Addr is host:port of the server.
func (s *RedisServer) Addr() string { return s.addr }

// Dir is the server's working directory (where dump.rdb goes).
func (s *RedisServer) Dir() string { return s.dir }

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func needBinary(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		unavailable(t, "%s is not installed: apt-get install redis-server (it brings redis-server and redis-cli)", name)
	}
}

// StartRedis starts a private redis-server bound to 127.0.0.1 on a free
// port, in its own temporary directory, persisting nothing unless args say
// otherwise (args are redis-server options such as "--maxmemory", "1mb").
func StartRedis(t testing.TB, args ...string) *RedisServer {
	t.Helper()
	needBinary(t, "redis-server")
	port := strconv.Itoa(freePort(t))
	s := &RedisServer{t: t, addr: "127.0.0.1:" + port, dir: t.TempDir()}
	s.args = append([]string{"--port", port, "--bind", "127.0.0.1", "--dir", s.dir,
		"--save", "", "--appendonly", "no", "--protected-mode", "no"}, args...)
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start starts the server (again, on the same port and directory, so a
// dump.rdb left there is loaded) and waits until it answers PING.
func (s *RedisServer) Start() {
	s.t.Helper()
	if s.cmd != nil {
		return
	}
	cmd := exec.Command("redis-server", s.args...)
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	s.cmd = cmd
	c := redis.NewClient(&redis.Options{Addr: s.addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := c.Ping(context.Background()).Err()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on %s did not answer: %v", s.addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop kills the server without saving and waits for it to exit. Idempotent.
func (s *RedisServer) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Signal sends sig to the server process (SIGSTOP/SIGCONT make it hang and
// resume without closing connections).
func (s *RedisServer) Signal(sig os.Signal) error {
	if s.cmd == nil {
		return os.ErrProcessDone
	}
	return s.cmd.Process.Signal(sig)
}

// Restart stops and starts the server.
func (s *RedisServer) Restart() { s.Stop(); s.Start() }

// RedisCluster starts three cluster-enabled redis-server masters on free
// loopback ports, joins them with redis-cli --cluster create, waits for
// cluster_state:ok on every node, and returns their addresses. All are
// stopped at cleanup.
func RedisCluster(t testing.TB) []string {
	t.Helper()
	needBinary(t, "redis-cli")
	var addrs []string
	for range 3 {
		dir := t.TempDir()
		s := StartRedis(t, "--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"),
			"--cluster-node-timeout", "2000")
		addrs = append(addrs, s.Addr())
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, a := range addrs {
		c := redis.NewClient(&redis.Options{Addr: a})
		deadline := time.Now().Add(10 * time.Second)
		for {
			info, err := c.ClusterInfo(context.Background()).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				c.Close()
				t.Fatalf("cluster node %s not ok: %v %s", a, err, info)
			}
			time.Sleep(10 * time.Millisecond)
		}
		c.Close()
	}
	return addrs
}
