// Package testenv finds or starts the real servers tests run against:
// PostgreSQL, MariaDB/MySQL and Redis on their usual loopback ports, private
// redis-server processes on free loopback ports, and a local Redis Cluster.
//
// A missing server skips the test with a message that says what to start,
// except under CI=true, where it fails the test: CI must not pass by testing
// nothing. Addresses and DSNs can be overridden with YOKED_TEST_REDIS,
// YOKED_TEST_POSTGRES and YOKED_TEST_MYSQL.
//
// Shared servers are shared by every test and every package: a test keeps
// to its own namespace (Name), schema (PostgresSchema) or database
// (MySQLDatabase) so that concurrent runs never collide.
package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
)

// InCI reports whether the tests run under CI (CI=true), where a missing
// server is a failure rather than a skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// unavailable skips t (fails it under CI) with a message naming what to start.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatal(msg + " (CI=true: a missing server fails the test)")
	}
	t.Skip(msg)
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// probes remembers, per address or DSN, whether a shared server answered,
// so a package of many tests probes each server once.
var probes sync.Map // string -> *probe

type probe struct {
	once sync.Once
	err  error
}

// reachable runs check once per key for the life of the process and returns
// its result.
func reachable(key string, check func() error) error {
	p, _ := probes.LoadOrStore(key, new(probe))
	pr := p.(*probe)
	pr.once.Do(func() { pr.err = check() })
	return pr.err
}

// Name returns a fresh identifier (schema, database, namespace) that no
// other test run uses: prefix + 12 random lower-case hex digits.
func Name(prefix string) string {
	var b [6]byte
	rand.Read(b[:]) // never fails (crypto/rand contract since Go 1.24)
	return prefix + hex.EncodeToString(b[:])
}
