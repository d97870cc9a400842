// Package tagstore is a cache of tagged, versioned values: set with a TTL and
// tags, get, delete, invalidate every entry carrying a tag, invalidate by glob
// pattern, flush a namespace. It knows nothing of SQL.
//
// Invalidation is by version, not by enumeration. Every tag has a version
// that changes on each invalidation and never returns to an earlier value. A
// reader takes a Stamp of the versions of the tags it depends on BEFORE it
// reads the source of truth, and stores its value under that Stamp; an entry
// is served only while every tag still has the version it was stored under.
// A missing version (evicted, lost in a restart) is a miss, never "the same
// version again". This makes InvalidateTags O(1) in the number of entries and
// closes the race in which a slow reader writes data from before a write back
// into the cache after that write's invalidation.
//
// Every entry also depends on a namespace-wide tag (AllTag), so InvalidateAll
// is one version bump too.
package tagstore

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// AllTag is the tag every entry depends on implicitly; invalidating it
// invalidates the whole namespace. Stores add it to every Stamp themselves.
const AllTag = "*"

// ErrBypass is returned by Lookup when the store cannot vouch for the tags
// right now (an invalidation of one of them is still pending, the store is
// unreachable, its circuit breaker is open): the caller must read the source
// of truth and must not store the result.
var ErrBypass = errors.New("tagstore: bypass the cache")

// ErrInFlight is returned by Lookup and Stamp while a write to one of the
// tags is in flight (see WriteMarker). It wraps ErrBypass: the caller reads
// the source of truth and stores nothing.
var ErrInFlight = fmt.Errorf("%w: a write to one of the tags is in flight", ErrBypass)

// ErrClosed is returned by every method of a closed store.
var ErrClosed = errors.New("tagstore: store is closed")

type noBreakerKey struct{}

// WithoutBreaker returns a context under which a store with a circuit
// breaker sends invalidations even while the breaker is open. Background
// retries of failed invalidations use it: a breaker opened by this process's
// failures says nothing about whether the store is reachable now, and the
// retry is what makes a write visible to other processes again. Operations
// on a caller's path should not use it: an open breaker is what keeps them
// from waiting on a store that does not answer.
func WithoutBreaker(ctx context.Context) context.Context {
	return context.WithValue(ctx, noBreakerKey{}, true)
}

// BreakerIgnored reports whether ctx came from WithoutBreaker.
func BreakerIgnored(ctx context.Context) bool { return ctx.Value(noBreakerKey{}) != nil }

// Stamp is the versions of a set of tags, read before the source of truth.
// A Stamp is only meaningful to the store that produced it. The zero Stamp
// is not valid for Set.
type Stamp struct {
	Tags     []string
	Versions []uint64
}

// Valid reports whether the stamp may be used with Set.
func (s Stamp) Valid() bool { return len(s.Tags) > 0 && len(s.Tags) == len(s.Versions) }

// Store is a tagged, versioned cache. All methods are safe for concurrent
// use. Values are whatever the caller stores; a store that crosses a process
// boundary encodes them with the Codec it was built with. Callers must not
// mutate a value after Set or one returned by Lookup.
type Store interface {
	// Lookup returns the value stored under key if it is present, unexpired,
	// and every tag it was stored under still has the version it was stored
	// with. On a miss it returns a Stamp of the current versions of tags (plus
	// AllTag), creating versions that do not exist yet, to be passed to Set
	// after the caller has read the source of truth. A remote store answers
	// a hit in one round trip, and a miss in one unless it must create a
	// version first.
	// On ErrBypass (or any other error) the caller reads the source and does
	// not call Set.
	Lookup(ctx context.Context, key string, tags []string) (value any, hit bool, stamp Stamp, err error)

	// Stamp returns the current versions of tags (plus AllTag), creating the
	// versions that do not exist yet, without looking up any entry. It is for
	// callers that compute a value before they have a key to look up.
	Stamp(ctx context.Context, tags []string) (Stamp, error)

	// Set stores value under key for ttl (0 means the store's default), to be
	// served while every tag in stamp keeps its version. size is the caller's
	// estimate of the value's size in bytes, used to bound memory. Set with a
	// stamp whose versions have already moved may store nothing.
	Set(ctx context.Context, key string, value any, size int, ttl time.Duration, stamp Stamp) error

	// Delete removes the entries under keys; absent keys are not an error.
	Delete(ctx context.Context, keys ...string) error

	// InvalidateTags gives each tag a new version. When it returns nil, no
	// Lookup that starts afterwards, in any process sharing the store, returns
	// an entry stored under an older version of any of the tags.
	InvalidateTags(ctx context.Context, tags ...string) error

	// InvalidateAll invalidates every entry of the namespace (one version bump
	// of AllTag), with the guarantee of InvalidateTags.
	InvalidateAll(ctx context.Context) error

	// InvalidatePattern invalidates every tag whose name matches the glob
	// pattern (path.Match syntax: *, ?, [...]) and deletes every entry whose
	// key matches it, and returns how many tags and keys it touched. It walks
	// the namespace, so its cost grows with the size of the cache.
	InvalidatePattern(ctx context.Context, pattern string) (int, error)

	// Flush removes every entry and version of the namespace and nothing else.
	Flush(ctx context.Context) error

	// Stats returns counters since the store was created.
	Stats() Stats

	// Close releases the store's resources. It is idempotent.
	Close() error
}

// WriteMarker is implemented by stores shared between processes. It lets a
// writer announce a write before sending it to the source of truth, so that
// a writer cut off from the store after its write cannot leave other
// processes serving entries older than the write (the way update
// timestamps work in Hibernate's query cache).
//
// The protocol: MarkWrite before the write is sent; EndWrite after it
// returned, whatever its outcome. Between the two, the tags are "in flight":
// every Lookup and Stamp that includes one, in every process, returns
// ErrInFlight, so nothing is served or stored for them; entries stored
// before MarkWrite are never served again. A mark that is never ended
// expires after a lifetime chosen by the store; a write still running then
// is covered again only by its EndWrite.
type WriteMarker interface {
	// MarkWrite marks tags in flight and returns the mark to end. It
	// returns ErrBypass without waiting when the store's breaker is open,
	// and any other error when the store could not be reached; the mark
	// may or may not be in place then.
	MarkWrite(ctx context.Context, tags []string) (WriteMark, error)

	// EndWrite ends the mark and invalidates its tags, with the guarantee
	// of InvalidateTags. On error the mark stays (until it expires) and the
	// caller retries EndWrite, with WithoutBreaker from the background.
	EndWrite(ctx context.Context, m WriteMark) error
}

// Answerer is implemented by a store that can tell, at the cost of an
// atomic load, whether it is answering now.
type Answerer interface {
	// Answering reports whether the store's latest operations succeeded:
	// false from a failure (or an open breaker) until an operation
	// succeeds again.
	Answering() bool
}

// WriteMark is one MarkWrite's mark, only meaningful to the store that made
// it.
type WriteMark struct {
	Tags  []string
	ID    string
	State any // the store's own
}

// Stats are a store's counters.
type Stats struct {
	Hits          uint64 `json:"hits"`
	Misses        uint64 `json:"misses"`
	Sets          uint64 `json:"sets"`
	Deletes       uint64 `json:"deletes"`
	Invalidations uint64 `json:"invalidations"`
	Errors        uint64 `json:"errors"`
	Entries       int64  `json:"entries"` // -1 when the store cannot tell cheaply
	Bytes         int64  `json:"bytes"`   // -1 when the store cannot tell cheaply
}

// Codec turns values into bytes and back, for stores that keep values outside
// the process. Unmarshal must reject foreign or corrupt input with an error
// (the store then treats the entry as a miss) and must never allocate without
// bound or execute anything found in the input.
type Codec interface {
	Marshal(v any) ([]byte, error)
	Unmarshal(b []byte) (any, error)
}

// EndReader is implemented by a WriteMarker that can read the version of
// one more tag in the same step as ending a mark, after the write
// returned: the driver's check of its schema epoch then costs no round
// trip of its own.
type EndReader interface {
	// EndWriteRead is EndWrite that also returns the version of tag read
	// after the mark ended: 0 when tag has no version or a write to it is
	// in flight. On error it is as EndWrite's, and the version is unknown.
	EndWriteRead(ctx context.Context, m WriteMark, tag string) (uint64, error)
}
