package tagstore

import (
	"context"
	"errors"
	"strconv"
	"time"

	"golang.org/x/sync/singleflight"
)

// LoadFunc computes a value from the source of truth, with its size in bytes
// for the store's bound.
type LoadFunc func(ctx context.Context) (value any, size int, err error)

// Loader reads through a Store: a value is served from the store while its
// tags keep their versions, and loaded (once for all concurrent callers that
// saw the same versions) otherwise. The zero Loader is not usable; create one
// with NewLoader. A Loader is safe for concurrent use.
type Loader struct {
	store Store
	group singleflight.Group
}

// NewLoader returns a Loader over store.
func NewLoader(store Store) *Loader { return &Loader{store: store} }

// GetOrLoad returns the value stored under key, or calls load and stores
// what it returns for ttl (0: the store's default) under the versions of
// tags taken before load ran, so a value loaded before an invalidation of
// one of the tags is never served after it.
//
// Concurrent calls for the same key that saw the same versions share one
// call of load and its result; callers must not mutate a returned value.
// An error from load is returned and nothing is stored. When the store
// cannot serve (ErrBypass, any error of Lookup) load is called and its value
// returned without being stored; an error of Set is ignored. When the caller
// that ran a shared load had its context end, the others load for themselves.
func (l *Loader) GetOrLoad(ctx context.Context, key string, ttl time.Duration, tags []string, load LoadFunc) (any, error) {
	v, hit, stamp, err := l.store.Lookup(ctx, key, tags)
	if err != nil {
		v, _, err := load(ctx)
		return v, err
	}
	if hit {
		return v, nil
	}
	fill := func() (any, error) {
		v, size, err := load(ctx)
		if err != nil {
			return nil, err
		}
		_ = l.store.Set(ctx, key, v, size, ttl, stamp)
		return v, nil
	}
	v, err, shared := l.group.Do(flightKey(key, stamp), fill)
	if err != nil && shared && ctx.Err() == nil &&
		(errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		// The context that ended was another caller's, not ours.
		return fill()
	}
	return v, err
}

// flightKey identifies a load: the key and the exact versions it was
// stamped with, so callers that saw different versions never share.
func flightKey(key string, s Stamp) string {
	b := make([]byte, 0, len(key)+len(s.Tags)*24)
	b = strconv.AppendInt(b, int64(len(key)), 10)
	b = append(b, ':')
	b = append(b, key...)
	for i, t := range s.Tags {
		b = append(b, 0)
		b = strconv.AppendInt(b, int64(len(t)), 10)
		b = append(b, ':')
		b = append(b, t...)
		b = append(b, '=')
		b = strconv.AppendUint(b, s.Versions[i], 10)
	}
	return string(b)
}
