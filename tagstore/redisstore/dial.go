package redisstore

import (
	"context"
	"net"
	"time"
)

// keepDialing wraps a go-redis dialer so that a failed dial is never seen
// as one by go-redis: it returns a connection that fails every use with the
// dial's error instead. go-redis's pool counts failed dials and, once
// PoolSize of them have failed, stops dialling and answers the last dial
// error to every command, redialling in the background once a second. After
// a Redis restart a process could then not reach Redis for up to a second
// while other processes already read from it again; a write whose
// invalidation it could not send in that time left them serving the old
// entries (issue 9, found by TestStress). The store's own breaker, which
// probes every few milliseconds (see breaker), decides instead when to
// stop trying.
func keepDialing(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return failedConn{err}, nil
		}
		return c, nil
	}
}

// failedConn is a connection whose dial failed with err: every read and
// write returns err (go-redis retries a dial error, and drops the
// connection when its handshake fails).
type failedConn struct{ err error }

func (f failedConn) Read([]byte) (int, error)         { return 0, f.err }
func (f failedConn) Write([]byte) (int, error)        { return 0, f.err }
func (f failedConn) Close() error                     { return nil }
func (f failedConn) LocalAddr() net.Addr              { return failedAddr{} }
func (f failedConn) RemoteAddr() net.Addr             { return failedAddr{} }
func (f failedConn) SetDeadline(time.Time) error      { return nil }
func (f failedConn) SetReadDeadline(time.Time) error  { return nil }
func (f failedConn) SetWriteDeadline(time.Time) error { return nil }

type failedAddr struct{}

func (failedAddr) Network() string { return "tcp" }
func (failedAddr) String() string  { return "undialled" }
