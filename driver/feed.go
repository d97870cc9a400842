package driver

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/yokedcache/yoked/tagstore"
)

// skipFeedLag is the skip reason of reads made while the change feed's
// heartbeat is older than the configured maximum lag.
const skipFeedLag = "feed_lag"

// feedHeartbeat is the mark a change feed (package changefeed) writes:
// "<unix nanoseconds> <position>", meaning every transaction whose commit
// returned before that time has been invalidated in the store.
const feedHeartbeat = "changefeed.heartbeat"

// WithChangeFeed makes every cached read depend on a change feed
// (yokedcache watch, or changefeed.Run) that invalidates writes made outside
// yoked: a read is served from the cache only while the feed's heartbeat in
// the store is at most maxLag old, and goes to the database (skip reason
// "feed_lag") otherwise. With it, a read that starts maxLag after any
// program's write returned never sees data older than that write (clocks of
// the feed and the readers synchronised; see docs/changefeed.md). The feed
// writes its heartbeat every 50 ms, so maxLag below about 200 ms bypasses
// most reads. Zero turns the requirement off. The store must keep marks
// (the memory and Redis stores do). Also YOKED_FEED_MAX_LAG, or feed=<d> on
// the store URL.
func WithChangeFeed(maxLag time.Duration) Option {
	return func(c *Config) { c.FeedMaxLag = maxLag }
}

// marker is what the feed gate needs of the store.
type marker interface {
	Mark(ctx context.Context, name string) ([]byte, error)
}

// feedGate answers whether the feed's heartbeat is recent enough. It reads
// the heartbeat at most every poll period, on the read path of whichever
// read finds it due (one store round trip); a heartbeat known from an
// earlier poll is older than the current one, so deciding from it errs
// towards bypassing.
type feedGate struct {
	store   marker
	maxLag  int64 // nanoseconds
	every   int64
	beat    atomic.Int64 // unix nanoseconds of the newest heartbeat read
	polled  atomic.Int64 // when the last poll started
	polling atomic.Bool
}

func newFeedGate(store tagstore.Store, maxLag time.Duration) (*feedGate, error) {
	m, ok := store.(marker)
	if !ok {
		return nil, configErr("a change feed requirement (feed max lag %v) needs a store that keeps marks; %T does not", maxLag, store)
	}
	every := min(maxLag/4, 50*time.Millisecond)
	return &feedGate{store: m, maxLag: int64(maxLag), every: int64(max(every, time.Millisecond))}, nil
}

// fresh reports whether a read starting now may use the cache.
func (g *feedGate) fresh(ctx context.Context) bool {
	now := time.Now().UnixNano()
	if now-g.polled.Load() >= g.every && g.polling.CompareAndSwap(false, true) {
		g.polled.Store(now)
		if b, err := g.store.Mark(ctx, feedHeartbeat); err == nil {
			s, _, _ := strings.Cut(string(b), " ")
			if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > g.beat.Load() {
				g.beat.Store(n)
			}
		}
		g.polling.Store(false)
	}
	return now-g.beat.Load() <= g.maxLag
}

// feedFromURL moves a feed=<duration> parameter of the store URL into
// c.FeedMaxLag unless an option or YOKED_FEED_MAX_LAG set it (the store
// itself does not know it).
func feedFromURL(c *Config) error {
	i := strings.IndexByte(c.StoreURL, '?')
	if i < 0 || !strings.Contains(c.StoreURL[i:], "feed=") {
		return nil
	}
	u, err := url.Parse(c.StoreURL)
	if err != nil {
		return configErr("store URL: %v", err)
	}
	q := u.Query()
	v := q.Get("feed")
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return configErr("store URL: feed=%q is not a non-negative Go duration such as 1s", v)
	}
	if c.FeedMaxLag == 0 {
		c.FeedMaxLag = d
	}
	q.Del("feed")
	u.RawQuery = q.Encode()
	c.StoreURL = u.String()
	return nil
}
