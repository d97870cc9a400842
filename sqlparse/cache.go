package sqlparse

import "github.com/maypok86/otter/v2"

// maxCachedText is the longest text NewCache remembers: longer texts (bulk
// inserts with inlined values, generated IN lists) are rarely repeated and
// would fill the cache with large keys.
const maxCachedText = 16 << 10

// DefaultCacheSize is the number of statements NewCache keeps when asked for
// a size of zero or less.
const DefaultCacheSize = 10_000

// NewCache returns a Parser that asks p once per distinct SQL text and then
// answers from a bounded cache of at most size texts (least recently and
// frequently used ones go first). Texts longer than 16 KiB are always parsed.
//
// The Statements it returns share their slices between callers: they must
// not be mutated. The result is safe for concurrent use when p is.
func NewCache(p Parser, size int) Parser {
	if size <= 0 {
		size = DefaultCacheSize
	}
	return &cached{p: p, c: otter.Must(&otter.Options[string, Statement]{MaximumSize: size})}
}

type cached struct {
	p Parser
	c *otter.Cache[string, Statement]
}

func (c *cached) Parse(sql string) Statement {
	if st, ok := c.c.GetIfPresent(sql); ok {
		return st
	}
	st := c.p.Parse(sql)
	if len(sql) <= maxCachedText {
		c.c.Set(sql, st)
	}
	return st
}
