package redisstore

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/redis/go-redis/v9"
)

// go-redis logs through one process-wide logger, to stderr by default. The
// package replaces it, once, by one that hands each line to the Logger of
// every open Store (at Debug level, distinct loggers once each), so that
// the client's own complaints (failed dials, mostly) go where the
// application's logs go, and nowhere when it configured none.
var goRedisLog struct {
	once sync.Once
	mu   sync.Mutex
	to   map[*Store]*slog.Logger
}

type slogRouter struct{}

func (slogRouter) Printf(_ context.Context, format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	goRedisLog.mu.Lock()
	seen := make(map[*slog.Logger]bool, len(goRedisLog.to))
	var ls []*slog.Logger
	for _, l := range goRedisLog.to {
		if !seen[l] {
			seen[l] = true
			ls = append(ls, l)
		}
	}
	goRedisLog.mu.Unlock()
	for _, l := range ls {
		l.Debug("go-redis: "+msg, "source", "go-redis")
	}
}

// routeClientLog registers s's logger for go-redis's lines until Close.
func routeClientLog(s *Store) {
	goRedisLog.once.Do(func() {
		goRedisLog.to = map[*Store]*slog.Logger{}
		redis.SetLogger(slogRouter{})
	})
	goRedisLog.mu.Lock()
	goRedisLog.to[s] = s.opt.Logger
	goRedisLog.mu.Unlock()
}

func unrouteClientLog(s *Store) {
	goRedisLog.mu.Lock()
	delete(goRedisLog.to, s)
	goRedisLog.mu.Unlock()
}

// health logs the first failure after a success once, at Warn, and the
// first success after failures at Info. The Warn goes to slog.Default()
// when no Logger was configured: an unreachable cache must not go unseen.
func (s *Store) noteFailure(err error) {
	if s.failing.CompareAndSwap(false, true) {
		l := s.opt.Logger
		if s.defaultLogger {
			l = slog.Default()
		}
		l.Warn("redisstore: Redis failed; the cache is bypassed where needed until it answers again",
			"namespace", s.opt.Namespace, "err", err)
	}
}

func (s *Store) noteSuccess() {
	if s.failing.Load() && s.failing.CompareAndSwap(true, false) {
		s.opt.Logger.Info("redisstore: Redis answers again", "namespace", s.opt.Namespace)
	}
}
