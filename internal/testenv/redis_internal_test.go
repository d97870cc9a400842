package testenv

import (
	"strings"
	"testing"
	"time"
)

// A port taken between probing and binding must not pass for our server,
// even when whoever took it answers PING; StartRedis retries on this error.
func TestStartRejectsAPortTakenByAnotherRedis(t *testing.T) {
	other := StartRedis(t)
	port := other.Addr()[strings.LastIndexByte(other.Addr(), ':')+1:]
	s := &RedisServer{t: t, addr: other.Addr(), dir: t.TempDir(),
		args: []string{"--port", port, "--bind", "127.0.0.1", "--save", ""}}
	err := s.start()
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("start on a taken port: %v; want an 'in use' error", err)
	}
	if s.cmd != nil {
		t.Fatal("the failed server is still tracked as running")
	}
	if err := redisPing(other.Addr(), time.Second); err != nil {
		t.Fatalf("the server that owned the port stopped answering: %v", err)
	}
}
