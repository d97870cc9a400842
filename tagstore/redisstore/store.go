package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/yokedcache/yoked/tagstore"
)

var _ tagstore.Store = (*Store)(nil)

// maxKeyLen is the longest key stored verbatim; longer keys are hashed.
const maxKeyLen = 256

// Store is a tagstore.Store on Redis. See the package comment.
type Store struct {
	c         redis.UniversalClient
	opt       Options
	ownClient bool

	vprefix   string // "{yoked:<ns>}:v:"
	fprefix   string // "{yoked:<ns>}:f:", mark sets (inflight.go)
	eprefix   string // "yoked:<ns>:e:"
	allKey    string
	epochKey  string
	channel   string // "{yoked:<ns>}:inval", invalidations
	hbChannel string // "{yoked:<ns>}:hb", L1 heartbeats
	ackPre    string // "{yoked:<ns>}:ack:", followed by a writer id

	acks *acks
	// countsReceivers: the publish reply counts every subscriber (one
	// node, or a Cluster's sharded pub/sub).
	countsReceivers bool
	// sharded: publish with SPUBLISH and subscribe with SSUBSCRIBE (a
	// Cluster, Redis 7 or later).
	sharded bool

	br      breaker
	probing atomic.Bool // a prober runs (breaker.go)

	// dials counts connections made by the client; checked is the count
	// covered by the last successful run_id check. A Lookup hit is served
	// only if no connection was made since the check that preceded it.
	dials   atomic.Uint64
	checked atomic.Uint64
	checkMu chan struct{} // a lock that gives up with the caller's context

	near *near      // the L1, nil without one
	sub  *near      // the subscription: near, or one that only listens (acks.go)
	pub  *publisher // shared counters, see shared.go

	closed atomic.Bool

	failing       atomic.Bool // a failure was logged, no success since
	defaultLogger bool        // no Logger was configured

	hits, misses, sets, deletes, invalidations, errs atomic.Uint64
	l1hits, redos, restarts, corrupt, fenceWaits     atomic.Uint64
	marks, expiredMarks, inFlight                    atomic.Uint64

	local localMarks // this Store's marks in flight (inflight.go)
}

// New returns a Store on client. It installs a dial hook on the client (to
// notice reconnections, see the package comment), so build the Store before
// the client is shared. The Store does not close client unless it came from
// NewFromURL. For Options.Timeout to cut network waits, the client must have
// ContextTimeoutEnabled.
func New(client redis.UniversalClient, opt Options) (*Store, error) {
	if client == nil {
		return nil, errors.New("redisstore: nil client")
	}
	defaultLogger := opt.Logger == nil
	opt, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	ns := opt.Namespace
	s := &Store{
		c:             client,
		opt:           opt,
		vprefix:       "{yoked:" + ns + "}:v:",
		fprefix:       "{yoked:" + ns + "}:f:",
		eprefix:       "yoked:" + ns + ":e:",
		epochKey:      "{yoked:" + ns + "}:epoch",
		channel:       "{yoked:" + ns + "}:inval",
		hbChannel:     "{yoked:" + ns + "}:hb",
		ackPre:        "{yoked:" + ns + "}:ack:",
		acks:          newAcks(),
		checkMu:       make(chan struct{}, 1),
		defaultLogger: defaultLogger,
		br:            breaker{threshold: opt.BreakerFailures, cooldown: opt.BreakerCooldown},
	}
	s.br.opened = s.probe
	s.allKey = s.vprefix + tagstore.AllTag
	s.dials.Store(1) // nothing checked yet
	hook := dialHook{s}
	switch c := client.(type) {
	case *redis.ClusterClient:
		c.OnNewNode(func(n *redis.Client) { n.AddHook(hook) })
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = c.ForEachShard(ctx, func(_ context.Context, n *redis.Client) error { n.AddHook(hook); return nil })
		cancel()
		s.countsReceivers, s.sharded = true, true
	case *redis.Ring:
		c.OnNewNode(func(n *redis.Client) { n.AddHook(hook) })
	default:
		client.AddHook(hook)
		s.countsReceivers = true
	}
	// Route go-redis's lines before the first dial (the subscriptions
	// below dial at once): a failure logged before would go to stderr.
	routeClientLog(s)
	if opt.L1 != nil {
		s.near = startNear(s, opt.L1)
		s.sub = s.near
	} else if s.countsReceivers {
		s.sub = startNear(s, nil)
	}
	s.pub = startPublisher(s, opt.StatsInterval)
	return s, nil
}

// Codec returns the codec the Store encodes values with.
func (s *Store) Codec() tagstore.Codec { return s.opt.Codec }

// dialHook counts new connections.
type dialHook struct{ s *Store }

func (h dialHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		h.s.dials.Add(1) // before the connection exists, so nothing precedes the count
		return next(ctx, network, addr)
	}
}
func (dialHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (dialHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// ackChannel is where other processes acknowledge this Store's messages.
func (s *Store) ackChannel() string { return s.ackPre + s.acks.writer }

// pubArgs are publishLua's arguments for publishing msg on the
// invalidation channel and, unless self is empty, self on this Store's ack
// channel.
func (s *Store) pubArgs(msg, self string) []any {
	cmd, ack := "PUBLISH", ""
	if s.sharded {
		cmd = "SPUBLISH"
	}
	if self != "" {
		ack = s.ackChannel()
	}
	return []any{cmd, s.channel, msg, ack, self}
}

// publishTo publishes msg on channel, a channel of the namespace's slot.
func (s *Store) publishTo(ctx context.Context, channel, msg string) error {
	if s.sharded {
		return s.c.SPublish(ctx, channel, msg).Err()
	}
	return s.c.Publish(ctx, channel, msg).Err()
}

// Client returns the underlying client.
func (s *Store) Client() redis.UniversalClient { return s.c }

func (s *Store) entryKey(key string) string {
	if len(key) <= maxKeyLen {
		return s.eprefix + "k:" + key
	}
	sum := sha256.Sum256([]byte(key))
	return s.eprefix + "h:" + hex.EncodeToString(sum[:])
}

// stampTags is AllTag followed by tags.
func stampTags(tags []string) []string {
	all := make([]string, 0, len(tags)+1)
	all = append(all, tagstore.AllTag)
	return append(all, tags...)
}

func (s *Store) versionKeys(tags []string) []string {
	keys := make([]string, len(tags))
	for i, t := range tags {
		keys[i] = s.vprefix + t
	}
	return keys
}

// tokens returns n fresh random versions, as script arguments.
func tokens(n int) []any {
	args := make([]any, n)
	for i := range n {
		args[i] = formatVersion(newVersion())
	}
	return args
}

func newVersion() uint64 {
	for {
		if v := rand.Uint64(); v != 0 {
			return v
		}
	}
}

func formatVersion(v uint64) string { return strconv.FormatUint(v, 16) }

func parseVersions(cmd *redis.Cmd, n int) ([]uint64, error) {
	raw, err := cmd.StringSlice()
	if err != nil {
		return nil, err
	}
	if len(raw) != n {
		return nil, fmt.Errorf("redisstore: version script returned %d versions for %d tags", len(raw), n)
	}
	vs := make([]uint64, n)
	for _, r := range raw {
		if len(r) > 0 && r[0] == '!' {
			return nil, tagstore.ErrInFlight
		}
	}
	for i, r := range raw {
		if vs[i], err = strconv.ParseUint(r, 16, 64); err != nil {
			return nil, fmt.Errorf("redisstore: bad version %q: %w", r, err)
		}
	}
	return vs, nil
}

// begin admits an operation: store open, breaker closed.
func (s *Store) begin() error {
	if s.closed.Load() {
		return tagstore.ErrClosed
	}
	if !s.br.allow() {
		return tagstore.ErrBypass
	}
	return nil
}

// end records an operation's outcome with the breaker and counters. parent
// is the caller's context: an operation it cancelled proves nothing.
func (s *Store) end(parent context.Context, err error) error {
	switch {
	case err == nil:
		s.br.success()
		s.noteSuccess()
	case errors.Is(err, tagstore.ErrInFlight):
		s.br.success() // Redis answered
		s.noteSuccess()
		s.inFlight.Add(1)
	case parent.Err() != nil:
		s.br.neutral()
	default:
		s.errs.Add(1)
		s.br.failure()
		s.noteFailure(err)
	}
	return err
}

// checkEpoch runs epochScript unless every connection made so far is
// covered by a previous run. It returns the dial count it covers.
func (s *Store) checkEpoch(ctx context.Context) (uint64, error) {
	c0 := s.dials.Load()
	if s.checked.Load() >= c0 {
		return c0, nil
	}
	// One check at a time, but a caller waits for the lock no longer than
	// its context allows: behind a Redis that does not answer, callers
	// must not queue up one timeout each.
	select {
	case s.checkMu <- struct{}{}:
	case <-ctx.Done():
		return 0, fmt.Errorf("redisstore: checking the Redis run_id: %w", ctx.Err())
	}
	defer func() { <-s.checkMu }()
	c0 = s.dials.Load()
	if s.checked.Load() >= c0 {
		return c0, nil
	}
	bumped, err := epochScript.Run(ctx, s.c, []string{s.epochKey, s.allKey}, s.pubArgs(allMessage, "")...).Int()
	if err != nil {
		return 0, fmt.Errorf("redisstore: checking the Redis run_id: %w", err)
	}
	if bumped == 1 {
		s.restarts.Add(1)
		s.opt.Logger.Warn("redisstore: Redis lifetime changed; namespace invalidated", "namespace", s.opt.Namespace)
		if s.near != nil {
			s.near.invalidateAll()
		}
	}
	s.checked.Store(c0) // under checkMu, c0 only grows
	return c0, nil
}

// Lookup implements tagstore.Store. A hit is one round trip, and so is a
// miss unless a version must be created (see fetch); plus one after each
// reconnection, for the run_id check.
func (s *Store) Lookup(ctx context.Context, key string, tags []string) (any, bool, tagstore.Stamp, error) {
	if err := s.begin(); err != nil {
		return nil, false, tagstore.Stamp{}, err
	}
	if s.local.any(tags) {
		s.inFlight.Add(1)
		return nil, false, tagstore.Stamp{}, tagstore.ErrInFlight
	}
	var l1 l1Ticket
	if s.near != nil {
		v, hit, t := s.near.lookup(ctx, key, tags)
		if hit {
			s.hits.Add(1)
			s.l1hits.Add(1)
			return v, true, tagstore.Stamp{}, nil
		}
		l1 = t
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, s.opt.Timeout)
	defer cancel()
	v, size, expiry, hit, st, err := s.lookupRemote(ctx, key, tags)
	if err = s.end(parent, err); err != nil {
		return nil, false, tagstore.Stamp{}, err
	}
	if !hit {
		s.misses.Add(1)
		return nil, false, st, nil
	}
	s.hits.Add(1)
	if s.near != nil {
		s.near.fill(ctx, l1, key, v, size, expiry)
	}
	return v, true, tagstore.Stamp{}, nil
}

func (s *Store) lookupRemote(ctx context.Context, key string, tags []string) (v any, size int, expiry time.Time, hit bool, st tagstore.Stamp, err error) {
	st.Tags = stampTags(tags)
	vkeys := s.versionKeys(st.Tags)
	ekey := s.entryKey(key)
	for attempt := 0; ; attempt++ {
		gen, err := s.checkEpoch(ctx)
		if err != nil {
			return nil, 0, expiry, false, st, err
		}
		raw, versions, err := s.fetch(ctx, ekey, vkeys)
		if err != nil {
			return nil, 0, expiry, false, st, err
		}
		st.Versions = versions
		if raw == nil {
			return nil, 0, expiry, false, st, nil
		}
		if s.dials.Load() != gen {
			// A connection was made since the check: this answer may come
			// from a Redis that restarted from old data. Check and redo;
			// if connections keep coming, call it a miss (the stamp is
			// safe to store under either way).
			s.redos.Add(1)
			if attempt == 2 {
				return nil, 0, expiry, false, st, nil
			}
			continue
		}
		v, expiry, ok := s.validate(key, raw, st)
		if !ok {
			return nil, 0, expiry, false, st, nil
		}
		return v, len(raw), expiry, true, st, nil
	}
}

// fetch is the round trip of a Lookup: a pipeline of GET of the entry (nil
// if absent) and MGET of the current versions of vkeys. It runs no script:
// a script costs Redis many times what MGET does, and a hit has every
// version already. When a version is missing (never created, invalidated,
// evicted), the entry cannot be valid whatever it holds: fetch returns no
// entry and the versions created in a second round trip (see versions).
func (s *Store) fetch(ctx context.Context, ekey string, vkeys []string) ([]byte, []uint64, error) {
	pipe := s.c.Pipeline()
	get := pipe.Get(ctx, ekey)
	mget := pipe.MGet(ctx, vkeys...)
	_, _ = pipe.Exec(ctx)
	raw, err := get.Bytes()
	if err == redis.Nil {
		raw, err = nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	versions, created, err := s.versions(ctx, vkeys, mget)
	if err != nil || created {
		return nil, versions, err
	}
	return raw, versions, nil
}

// versions returns the versions of vkeys in mget's reply (an MGET of
// vkeys) or, when one is missing, the versions after creating it (a second
// round trip; created is then true). A write in flight on any is
// tagstore.ErrInFlight.
func (s *Store) versions(ctx context.Context, vkeys []string, mget *redis.SliceCmd) (versions []uint64, created bool, err error) {
	vals, err := mget.Result()
	if err != nil {
		return nil, false, err
	}
	versions, complete, err := parseMGet(vals, len(vkeys))
	if err != nil || complete {
		return versions, false, err
	}
	// Create the missing ones with plain commands, SET NX of a fresh
	// token, and read them all again in the same round trip: a script
	// costs Redis many times what these do. Anything may happen between
	// the two (another reader creates the version first, a write deletes
	// or marks it): the MGET reads what is current then, which is what a
	// stamp must be. Only a version deleted again in between (nil) sends
	// the stamp to stampScript, which does both in one step.
	ttl := s.opt.VersionTTL.Truncate(time.Millisecond) // as stampScript: ms, 0 never
	if ttl < 0 {
		ttl = 0
	}
	pipe := s.c.Pipeline()
	for i, v := range vals {
		if v != nil {
			continue
		}
		exp := ttl
		if vkeys[i] == s.allKey {
			exp = 0 // the namespace version never expires
		}
		pipe.SetNX(ctx, vkeys[i], formatVersion(newVersion()), exp)
	}
	again := pipe.MGet(ctx, vkeys...)
	if _, err = pipe.Exec(ctx); err != nil {
		return nil, true, err
	}
	vals, err = again.Result()
	if err != nil {
		return nil, true, err
	}
	if versions, complete, err = parseMGet(vals, len(vkeys)); err != nil || complete {
		return versions, true, err
	}
	args := append(tokens(len(vkeys)), ttl.Milliseconds(), s.allKey)
	versions, err = parseVersions(stampScript.Run(ctx, s.c, vkeys, args...), len(vkeys))
	return versions, true, err
}

// parseMGet returns the versions in an MGET reply of n version keys;
// complete is false when one is missing (its version is then 0). A write
// in flight on any is tagstore.ErrInFlight.
func parseMGet(vals []any, n int) (versions []uint64, complete bool, err error) {
	if len(vals) != n {
		return nil, false, fmt.Errorf("redisstore: MGET returned %d values for %d keys", len(vals), n)
	}
	versions = make([]uint64, n)
	complete = true
	for i, v := range vals {
		str, ok := v.(string)
		switch {
		case v == nil:
			complete = false
			continue
		case !ok:
			return nil, false, fmt.Errorf("redisstore: version of type %T", v)
		case len(str) > 0 && str[0] == '!':
			return nil, false, tagstore.ErrInFlight
		}
		if versions[i], err = strconv.ParseUint(str, 16, 64); err != nil {
			return nil, false, fmt.Errorf("redisstore: bad version %q: %w", str, err)
		}
	}
	return versions, complete, nil
}

// validate decodes raw and reports whether every tag it was stored under
// still has its version in st.
func (s *Store) validate(key string, raw []byte, st tagstore.Stamp) (any, time.Time, bool) {
	match := true
	expiry, value, err := walkEntry(raw, func(int) {}, func(tag []byte, version uint64) {
		for j, cur := range st.Tags {
			if cur == string(tag) {
				match = match && st.Versions[j] == version
				return
			}
		}
		match = false // a tag whose version we did not read
	})
	if err != nil {
		s.corruptEntry(key, err)
		return nil, expiry, false
	}
	if !match || !time.Now().Before(expiry) { // expired: Redis has not reaped it yet
		return nil, expiry, false
	}
	v, err := s.opt.Codec.Unmarshal(value)
	if err != nil {
		s.corruptEntry(key, err)
		return nil, expiry, false
	}
	return v, expiry, true
}

func (s *Store) corruptEntry(key string, err error) {
	s.corrupt.Add(1)
	s.errs.Add(1)
	s.opt.Logger.Error("redisstore: undecodable entry treated as a miss", "namespace", s.opt.Namespace, "key", key, "err", err)
}

// Stamp implements tagstore.Store.
func (s *Store) Stamp(ctx context.Context, tags []string) (tagstore.Stamp, error) {
	if err := s.begin(); err != nil {
		return tagstore.Stamp{}, err
	}
	if s.local.any(tags) {
		s.inFlight.Add(1)
		return tagstore.Stamp{}, tagstore.ErrInFlight
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, s.opt.Timeout)
	defer cancel()
	st := tagstore.Stamp{Tags: stampTags(tags)}
	vkeys := s.versionKeys(st.Tags)
	// Not needed for safety (a stamp from before a restart only stores
	// entries that are never served), but it keeps the stamp useful.
	_, err := s.checkEpoch(ctx)
	var versions []uint64
	if err == nil {
		versions, _, err = s.versions(ctx, vkeys, s.c.MGet(ctx, vkeys...))
	}
	if err = s.end(parent, err); err != nil {
		return tagstore.Stamp{}, err
	}
	st.Versions = versions
	return st, nil
}

// Set implements tagstore.Store. It does not compare the stamp with the
// current versions (that would cost a round trip to another slot): an entry
// stored under moved versions is simply never served.
func (s *Store) Set(ctx context.Context, key string, value any, size int, ttl time.Duration, st tagstore.Stamp) error {
	if !st.Valid() {
		return errors.New("redisstore: Set with an invalid stamp")
	}
	if err := s.begin(); err != nil {
		return err
	}
	b, err := s.opt.Codec.Marshal(value)
	if err != nil {
		return fmt.Errorf("redisstore: encoding value: %w", err)
	}
	if ttl <= 0 {
		ttl = s.opt.DefaultTTL
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, s.opt.Timeout)
	defer cancel()
	err = s.c.Set(ctx, s.entryKey(key), encodeEntry(time.Now().Add(ttl), st.Tags, st.Versions, b), ttl).Err()
	if err = s.end(parent, err); err != nil {
		return err
	}
	s.sets.Add(1)
	return nil
}

// Delete implements tagstore.Store.
func (s *Store) Delete(ctx context.Context, keys ...string) error {
	if err := s.begin(); err != nil {
		return err
	}
	if s.near != nil {
		s.near.delete(ctx, keys)
	}
	if len(keys) == 0 {
		s.br.success()
		return nil
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, s.opt.Timeout)
	defer cancel()
	pipe := s.c.Pipeline()
	for _, k := range keys {
		pipe.Unlink(ctx, s.entryKey(k))
	}
	_, err := pipe.Exec(ctx)
	if err = s.end(parent, err); err != nil {
		return err
	}
	s.deletes.Add(uint64(len(keys)))
	return nil
}

// InvalidateTags implements tagstore.Store: one script on the version slot,
// which also publishes the tags to every process's L1. When it returns nil,
// this process's L1 has dropped the tags too, and every other process's L1
// has either acknowledged dropping them or cannot answer any more from
// entries older than the invalidation (the fence, see the package comment);
// when another L1 received the message but does not acknowledge it, this
// takes Options.L1Fence.
func (s *Store) InvalidateTags(ctx context.Context, tags ...string) error {
	if s.closed.Load() {
		return tagstore.ErrClosed
	}
	if len(tags) == 0 {
		return nil
	}
	return s.bump(ctx, tags, tagsMessage(tags))
}

// InvalidateAll implements tagstore.Store.
func (s *Store) InvalidateAll(ctx context.Context) error {
	if s.closed.Load() {
		return tagstore.ErrClosed
	}
	return s.bump(ctx, []string{tagstore.AllTag}, allMessage)
}

func (s *Store) bump(ctx context.Context, tags []string, msg string) (err error) {
	if s.near != nil {
		// Whatever happens remotely, this process's L1 must not serve the
		// tags afterwards; dropping them again after the bump closes the
		// window in which a concurrent Lookup refilled L1 from Redis.
		defer func() {
			if msg == allMessage {
				s.near.invalidateAll()
			} else {
				s.near.invalidateTags(tags)
			}
		}()
	}
	// Invalidations are not held back by a half-open breaker (a read's
	// probe in flight), and a retry made with tagstore.WithoutBreaker is
	// not held back at all: an invalidation refused here leaves other
	// processes serving the old entries until it is retried.
	if !tagstore.BreakerIgnored(ctx) && !s.br.allowInvalidation() {
		return tagstore.ErrBypass
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, s.opt.InvalidateTimeout)
	defer cancel()
	vkeys := s.versionKeys(tags)
	return s.publishAcked(ctx, msg, func(pub []any) (int64, error) {
		// The script waits no longer than a lookup would (Options.Timeout):
		// a write must not stall behind a Redis that does not answer. A
		// failure leaves the invalidation to the caller's retry.
		sctx, scancel := context.WithTimeout(ctx, s.opt.Timeout)
		defer scancel()
		n, err := bumpScript.Run(sctx, s.c, vkeys, pub...).Int64()
		if err = s.end(parent, err); err != nil {
			return 0, fmt.Errorf("redisstore: invalidating %d tags: %w", len(tags), err)
		}
		s.invalidations.Add(uint64(len(tags)))
		return n, nil
	})
}

// Stats implements tagstore.Store. Entries and Bytes are -1: counting them
// would walk Redis.
func (s *Store) Stats() tagstore.Stats {
	return tagstore.Stats{
		Hits:          s.hits.Load(),
		Misses:        s.misses.Load(),
		Sets:          s.sets.Load(),
		Deletes:       s.deletes.Load(),
		Invalidations: s.invalidations.Load(),
		Errors:        s.errs.Load(),
		Entries:       -1,
		Bytes:         -1,
	}
}

// RedisStats are the counters of a Store beyond tagstore.Stats.
type RedisStats struct {
	tagstore.Stats
	L1Hits       uint64       `json:"l1_hits"`
	L1Enabled    bool         `json:"l1_enabled"`    // L1 configured, subscribed and within its fence
	L1Drops      uint64       `json:"l1_drops"`      // subscriptions lost while L1 was on
	Redos        uint64       `json:"redos"`         // lookups repeated after a reconnection
	Restarts     uint64       `json:"restarts"`      // Redis lifetimes changes that invalidated the namespace
	FenceWaits   uint64       `json:"fence_waits"`   // invalidations that waited the whole L1Fence for acknowledgements
	Corrupt      uint64       `json:"corrupt"`       // undecodable entries treated as misses
	WriteMarks   uint64       `json:"write_marks"`   // writes marked in flight (MarkWrite)
	ExpiredMarks uint64       `json:"expired_marks"` // writes whose mark had expired when they ended
	InFlight     uint64       `json:"in_flight"`     // lookups and stamps that met a write in flight
	Breaker      BreakerState `json:"breaker"`       // current state
	BreakerOpens uint64       `json:"breaker_opens"`

	// StatsPushFailures counts failed pushes to the shared counters.
	StatsPushFailures uint64 `json:"stats_push_failures"`
}

// RedisStats returns the Store's full counters.
func (s *Store) RedisStats() RedisStats {
	state, opens := s.br.snapshot()
	return RedisStats{
		Stats:        s.Stats(),
		L1Hits:       s.l1hits.Load(),
		L1Enabled:    s.near != nil && s.near.enabled.Load() && !s.near.fenced(),
		L1Drops:      s.l1drops(),
		Redos:        s.redos.Load(),
		Restarts:     s.restarts.Load(),
		FenceWaits:   s.fenceWaits.Load(),
		Corrupt:      s.corrupt.Load(),
		WriteMarks:   s.marks.Load(),
		ExpiredMarks: s.expiredMarks.Load(),
		InFlight:     s.inFlight.Load(),
		Breaker:      state,
		BreakerOpens: opens,

		StatsPushFailures: s.pub.failures.Load(),
	}
}

func (s *Store) l1drops() uint64 {
	if s.near == nil {
		return 0
	}
	return s.near.drops.Load()
}

// Close implements tagstore.Store. It stops the L1 subscription, closes
// the L1 store, pushes the last counts to the shared counters (bounded by
// Options.InvalidateTimeout; a failure is logged, not returned: the counts
// are lost, nothing else is) and, if the Store came from NewFromURL,
// closes the client.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	var err error
	if s.sub != nil {
		err = s.sub.close()
	}
	if perr := s.pub.close(s.opt.InvalidateTimeout); perr != nil {
		s.opt.Logger.Warn("redisstore: last counters not pushed at Close", "namespace", s.opt.Namespace, "err", perr)
	}
	if s.ownClient {
		err = errors.Join(err, s.c.Close())
	}
	unrouteClientLog(s)
	return err
}
