package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// A private database server runs as its own user (PostgreSQL and MariaDB
// refuse to run as root) in a temporary directory that user owns, on a free
// loopback port, and is killed by PID at the cleanup of the test that
// started it. The shared servers cannot be used for replication tests: they
// run without wal_level=logical and without a binlog.

// privateServer is a database server process the test owns.
type privateServer struct {
	t    testing.TB
	name string
	dir  string // owned by the server's user, removed at cleanup
	port string
	argv []string
	cred *syscall.Credential
	stop os.Signal // how Stop ends the process
	cmd  *exec.Cmd
	done chan struct{}
	out  *syncBuffer
	// ready reports whether the server answers.
	ready func() error
}

// serverUser returns the credential to run a server as when the tests run
// as root (the named system user), or nil to run it as ourselves.
func serverUser(t testing.TB, name string) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		unavailable(t, "tests run as root and there is no %s user to run a private server as: %v", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// ownedTempDir makes a temporary directory owned by cred's user.
func ownedTempDir(t testing.TB, prefix string, cred *syscall.Credential) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func (s *privateServer) command(argv ...string) *exec.Cmd {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = s.dir
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd
}

// setup runs a one-off command (initdb) as the server's user.
func (s *privateServer) setup(argv ...string) {
	s.t.Helper()
	out, err := s.command(argv...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
}

// Start starts the server if it is stopped and returns once it answers.
func (s *privateServer) Start() {
	s.t.Helper()
	if s.cmd != nil {
		return
	}
	cmd := s.command(s.argv...)
	out := new(syncBuffer)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start %s: %v", s.name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.cmd, s.done, s.out = cmd, done, out
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := s.ready()
		if err == nil {
			return
		}
		select {
		case <-done:
			s.cmd = nil
			s.t.Fatalf("%s exited before answering: %v\n%s", s.name, cmd.ProcessState, out.String())
		default:
		}
		if time.Now().After(deadline) {
			s.Stop()
			s.t.Fatalf("%s on port %s did not answer within 30 s: %v\n%s", s.name, s.port, err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop ends the server at once, as a crash would (PostgreSQL: immediate
// shutdown, SIGQUIT; MariaDB: SIGKILL), and returns once it has exited. It
// does nothing if the server is stopped.
func (s *privateServer) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(s.stop)
	<-s.done
	s.cmd = nil
}

// Port is the server's TCP port on 127.0.0.1.
func (s *privateServer) Port() string { return s.port }

// Log is what the server printed so far.
func (s *privateServer) Log() string {
	if s.out == nil {
		return ""
	}
	return s.out.String()
}

// PostgresServer is a private PostgreSQL with wal_level=logical.
type PostgresServer struct{ privateServer }

// postgresBin finds the binaries of the newest installed PostgreSQL.
func postgresBin(t testing.TB) string {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return va - vb
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i]
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	unavailable(t, "no PostgreSQL server binaries (initdb, postgres) for a private server: apt-get install -y postgresql")
	return ""
}

// StartPostgres initialises and starts a private PostgreSQL with
// wal_level=logical on a free loopback port, trusting every local
// connection, with database postgres and superuser postgres. extra are
// more "name=value" settings. It is killed at the end of t.
func StartPostgres(t testing.TB, extra ...string) *PostgresServer {
	t.Helper()
	bin := postgresBin(t)
	cred := serverUser(t, "postgres")
	dir := ownedTempDir(t, "yoked-pg-", cred)
	s := &PostgresServer{privateServer{t: t, name: "postgres", dir: dir, cred: cred, stop: syscall.SIGQUIT, port: freePort(t)}}
	s.setup(filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"), "-U", "postgres",
		"--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions")
	s.argv = []string{filepath.Join(bin, "postgres"), "-D", filepath.Join(dir, "data"), "-p", s.port, "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "wal_level=logical", "-c", "fsync=off",
		"-c", "max_wal_senders=10", "-c", "max_replication_slots=10", "-c", "shared_buffers=16MB",
		"-c", "max_connections=60", "-c", "wal_sender_timeout=5s"}
	for _, e := range extra {
		s.argv = append(s.argv, "-c", e)
	}
	s.ready = func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		c, err := pgconn.Connect(ctx, s.URL())
		if err != nil {
			return err
		}
		return c.Close(ctx)
	}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// URL is a connection URL for database postgres as user postgres.
func (s *PostgresServer) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%s/postgres?sslmode=disable", s.port)
}

// MariaDBServer is a private MariaDB writing a row-based binlog.
type MariaDBServer struct{ privateServer }

// StartMariaDB initialises and starts a private MariaDB with log_bin,
// binlog_format=ROW and server_id=1 on a free loopback port; root may log
// in over 127.0.0.1 without a password. extra are more mariadbd options
// ("--name=value"). It is killed at the end of t.
func StartMariaDB(t testing.TB, extra ...string) *MariaDBServer {
	t.Helper()
	daemon, err := exec.LookPath("mariadbd")
	if err != nil {
		daemon = "/usr/sbin/mariadbd"
	}
	install, err2 := exec.LookPath("mariadb-install-db")
	if _, err := os.Stat(daemon); err != nil || err2 != nil {
		unavailable(t, "no MariaDB server binaries (mariadbd, mariadb-install-db) for a private server: apt-get install -y mariadb-server")
	}
	cred := serverUser(t, "mysql")
	dir := ownedTempDir(t, "yoked-mariadb-", cred)
	s := &MariaDBServer{privateServer{t: t, name: "mariadbd", dir: dir, cred: cred, port: freePort(t), stop: syscall.SIGKILL}}
	data := filepath.Join(dir, "data")
	s.setup(install, "--no-defaults", "--datadir="+data, "--auth-root-authentication-method=normal", "--skip-test-db")
	s.argv = append([]string{daemon, "--no-defaults", "--datadir=" + data, "--port=" + s.port, "--bind-address=127.0.0.1",
		"--socket=" + filepath.Join(dir, "sock"), "--pid-file=" + filepath.Join(dir, "pid"),
		"--log-bin=" + filepath.Join(data, "bin"), "--binlog-format=ROW", "--server-id=1", "--skip-name-resolve",
		"--innodb-buffer-pool-size=16M", "--innodb-log-file-size=16M", "--skip-log-error"}, extra...)
	s.ready = func() error {
		return ping("mysql", s.DSN("mysql"))
	}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// DSN is a go-sql-driver/mysql DSN for database db as root.
func (s *MariaDBServer) DSN(db string) string {
	return "root@tcp(127.0.0.1:" + s.port + ")/" + db + "?parseTime=true&multiStatements=true"
}
