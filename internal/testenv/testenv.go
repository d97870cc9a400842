// Package testenv finds or starts the real servers yoked's tests run against:
// PostgreSQL, MariaDB/MySQL and Redis on their usual loopback ports, private
// redis-server processes on free loopback ports, and a local Redis Cluster.
//
// A missing server skips the test with a message that says what to start,
// except under CI=true, where it fails the test: CI must not pass by testing
// nothing. Addresses and DSNs can be overridden with YOKED_TEST_REDIS,
// YOKED_TEST_POSTGRES and YOKED_TEST_MYSQL.
package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
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
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// Name returns a fresh identifier (schema, database, namespace) that no
// other test run uses: prefix + 12 random hex digits.
func Name(prefix string) string {
	var b [6]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}
