package driver

import "context"

// Outcome is what the driver decided for one read.
type Outcome uint8

const (
	// Bypass: the read went to the database without the cache (see ReadEvent.Reason).
	Bypass Outcome = iota
	// Hit: the read was served from the cache; the database was not asked.
	Hit
	// Miss: the read went to the database and its result is offered to the cache.
	Miss
)

var outcomeNames = [...]string{"bypass", "hit", "miss"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "invalid"
}

// ReadEvent describes one read decision. Its slices are shared with the
// driver: an Observer reads them during the call and never keeps or changes
// them.
type ReadEvent struct {
	Outcome Outcome
	// Reason is why a read bypassed the cache, as counted in Stats.Skips
	// ("in_transaction", "not_cacheable", "store_error", …); "" otherwise.
	Reason string
	// Detail is the parser's reason for a "not_cacheable" bypass ("calls
	// now()", …); "" otherwise.
	Detail string
	// Tags are the tags the read is keyed on: "table:<name>" for each table
	// it reads, plus those given with WithTags or WithScope.
	Tags []string
}

// Observer is told of each read decision and each invalidation of a DB it
// was given to (WithObserver). It is called synchronously on the caller's
// goroutine with the caller's context (which carries its trace span), so it
// must be quick, must not block and must be safe for concurrent use.
// When no Observer is set the driver pays one nil check per read.
//
// Read is called once per read (QueryContext or prepared Query through
// yoked), before the database is asked on a miss or bypass. A result found
// too large or incomplete while it is read is still counted in Stats.Skips,
// but is not reported again. Invalidate is called for each write yoked makes
// visible (an autocommit write, a commit, DDL), after the base driver
// returned, with the tags invalidated; all is true when the write
// invalidated every table of the namespace. Invalidations asked through
// Cache.InvalidateTags and friends are not reported.
type Observer interface {
	Read(ctx context.Context, ev ReadEvent)
	Invalidate(ctx context.Context, tags []string, all bool)
}

// WithObserver makes o see the read decisions and invalidations of the DB
// (see Observer). The otelyoked package provides one for OpenTelemetry.
func WithObserver(o Observer) Option { return func(c *Config) { c.Observer = o } }
