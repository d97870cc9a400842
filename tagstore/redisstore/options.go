package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/yokedcache/yoked/tagstore"
)

// Options tune a Store. The zero value is usable.
type Options struct {
	// Namespace separates applications and databases sharing one Redis:
	// stores with different namespaces never see each other's entries or
	// versions. Letters, digits, '_', '-' and '.' only (default "default").
	Namespace string

	// Codec encodes values (default BytesCodec: []byte and string only).
	Codec tagstore.Codec

	// Timeout bounds each Lookup, Stamp, Set and Delete (default 50ms). It
	// only cuts the network wait if the client was built with
	// ContextTimeoutEnabled (NewFromURL does that).
	Timeout time.Duration

	// InvalidateTimeout bounds each InvalidateTags and InvalidateAll, on top
	// of the caller's context (default 1s). It is raised to at least
	// L1Fence + Timeout: an invalidation may have to wait out its fence (a
	// subscription that has just reconnected cannot yet count the other
	// processes' acknowledgements), and one cut short there fails, to be
	// retried, although its versions were bumped.
	InvalidateTimeout time.Duration

	// DefaultTTL is the lifetime of entries stored with ttl 0 (default 5m).
	DefaultTTL time.Duration

	// VersionTTL is the lifetime of a tag version (default 1h; negative:
	// versions never expire). Row tags give a version to every key read,
	// so versions expire like entries: an expired version is a miss for
	// the entries stored under it, and the next reader creates a fresh one
	// (versions never repeat), so expiry never serves anything stale. An
	// entry stored for longer than VersionTTL is served only until then.
	// The namespace version (tagstore.AllTag) never expires.
	VersionTTL time.Duration

	// BreakerFailures consecutive failures open the circuit breaker
	// (default 5); it closes when a background PING (every 5ms while it is
	// open) is answered, and after BreakerCooldown (default 1s) also lets
	// one operation through as a probe.
	BreakerFailures int
	BreakerCooldown time.Duration

	// L1 is an optional in-process store (the memory store) kept coherent
	// through pub/sub; nil disables it. The Store owns it and closes it.
	// A Store without one still subscribes (to the L1s' heartbeats and its
	// acknowledgements, one connection), so that its invalidations wait
	// for exactly the other processes' L1s (see the package comment).
	L1 tagstore.Store
	// L1TTL bounds the life of an L1 entry (default 2s).
	L1TTL time.Duration
	// L1Heartbeat is how long the subscription may go without a pong before
	// it counts as lost and is made again (default 1s).
	L1Heartbeat time.Duration
	// L1Fence bounds how long an invalidation waits for other processes'
	// L1s to acknowledge it, and how old the last heartbeat this process's
	// L1 heard back from itself may be for it to answer (default 50ms; L1
	// processes publish a heartbeat every L1Fence/4). See the package
	// comment.
	L1Fence time.Duration

	// WriteMarkTTL is the lifetime of a write's in-flight mark
	// (tagstore.WriteMarker, default 10s): readers of its tags bypass the
	// cache until the write ends or the mark expires, so it should exceed
	// the longest write (statement or COMMIT) that must stay covered when
	// the writer cannot reach Redis at its end.
	WriteMarkTTL time.Duration

	// StatsInterval is how often the Store adds its counters to the
	// namespace's shared counters in Redis (see SharedStats; default 1s).
	// Negative: only at Close and when SharedStats is called.
	StatsInterval time.Duration

	// Logger receives corrupt entries, lost subscriptions, restarts
	// detected and go-redis's own log lines (at Debug). Default: discard,
	// except the first failure after a success (or at open), which is
	// logged once at Warn to slog.Default().
	Logger *slog.Logger
}

var namespaceRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

func (o Options) withDefaults() (Options, error) {
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if !namespaceRE.MatchString(o.Namespace) {
		return o, fmt.Errorf("redisstore: namespace %q: want 1-64 letters, digits, '_', '-' or '.'", o.Namespace)
	}
	if o.Codec == nil {
		o.Codec = BytesCodec{}
	}
	if o.Timeout <= 0 {
		o.Timeout = 50 * time.Millisecond
	}
	if o.InvalidateTimeout <= 0 {
		o.InvalidateTimeout = time.Second
	}
	if o.VersionTTL == 0 {
		o.VersionTTL = time.Hour
	}
	if o.DefaultTTL <= 0 {
		o.DefaultTTL = 5 * time.Minute
	}
	if o.BreakerFailures <= 0 {
		o.BreakerFailures = 5
	}
	if o.BreakerCooldown <= 0 {
		o.BreakerCooldown = time.Second
	}
	if o.L1TTL <= 0 {
		o.L1TTL = 2 * time.Second
	}
	if o.L1Heartbeat <= 0 {
		o.L1Heartbeat = time.Second
	}
	if o.L1Fence <= 0 {
		o.L1Fence = 50 * time.Millisecond
	}
	o.InvalidateTimeout = max(o.InvalidateTimeout, o.L1Fence+o.Timeout)
	if o.WriteMarkTTL <= 0 {
		o.WriteMarkTTL = 10 * time.Second
	}
	if o.StatsInterval == 0 {
		o.StatsInterval = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// NewFromURL connects to the Redis named by rawURL and returns a Store that
// owns the client. Accepted forms:
//
//	redis://[user:pass@]host:port[/db][?options]       one node
//	rediss://...                                         one node over TLS
//	redis-cluster://host:port[?addr=host:port&...]       a cluster (rediss-cluster for TLS)
//
// Besides the client options go-redis understands, the query may carry
// namespace=<ns> and timeout=<duration>, which override opt. Timeouts of the
// client are derived from opt.Timeout unless the URL sets them.
func NewFromURL(rawURL string, opt Options) (*Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redisstore: bad URL: %w", err)
	}
	q := u.Query()
	if ns := q.Get("namespace"); ns != "" {
		opt.Namespace = ns
	}
	if ts := q.Get("timeout"); ts != "" {
		d, err := time.ParseDuration(ts)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("redisstore: bad timeout %q in URL", ts)
		}
		opt.Timeout = d
	}
	q.Del("namespace")
	q.Del("timeout")
	u.RawQuery = q.Encode()
	opt, err = opt.withDefaults()
	if err != nil {
		return nil, err
	}
	dial := 10 * opt.Timeout
	var client redis.UniversalClient
	switch u.Scheme {
	case "redis", "rediss", "unix":
		o, err := redis.ParseURL(u.String())
		if err != nil {
			return nil, fmt.Errorf("redisstore: %w", err)
		}
		o.ContextTimeoutEnabled = true
		if !q.Has("dial_timeout") {
			o.DialTimeout = dial
		}
		o.DialerRetries = 1 // the breaker and the callers' retries take over
		o.Dialer = keepDialing(redis.NewDialer(o))
		client = redis.NewClient(o)
	case "redis-cluster", "rediss-cluster":
		u.Scheme = strings.TrimSuffix(u.Scheme, "-cluster")
		o, err := redis.ParseClusterURL(u.String())
		if err != nil {
			return nil, fmt.Errorf("redisstore: %w", err)
		}
		o.ContextTimeoutEnabled = true
		if !q.Has("dial_timeout") {
			o.DialTimeout = dial
		}
		o.DialerRetries = 1
		o.Dialer = keepDialing(redis.NewDialer(&redis.Options{DialTimeout: o.DialTimeout, TLSConfig: o.TLSConfig}))
		client = redis.NewClusterClient(o)
	default:
		return nil, errors.New("redisstore: URL scheme must be redis, rediss, unix, redis-cluster or rediss-cluster")
	}
	s, err := New(client, opt)
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	s.ownClient = true
	if err := s.checkOpen(); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// checkOpen pings Redis once, within max(Timeout, 1s). A refusal by Redis
// itself (a database index out of range, a wrong password, a command
// denied) is a configuration error: the cache would never work. A Redis
// that cannot be reached is not: the Store fails open until it answers.
func (s *Store) checkOpen() error {
	ctx, cancel := context.WithTimeout(context.Background(), max(s.opt.Timeout, time.Second))
	defer cancel()
	err := s.c.Ping(ctx).Err()
	var re redis.Error
	if err != nil && errors.As(err, &re) {
		return fmt.Errorf("redisstore: Redis refused the connection: %w", err)
	}
	if err != nil {
		s.noteFailure(err)
	}
	return nil
}
