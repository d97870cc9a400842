package driver

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/yokedcache/yoked/tagstore"
)

// Defaults for Config fields left at their zero value.
const (
	DefaultTTL            = 5 * time.Minute
	DefaultNamespace      = "default"
	DefaultMaxRows        = 10_000
	DefaultMaxResultBytes = 1 << 20
)

// Config is the resolved configuration of a yoked connector. It is built from
// the environment first, then from Options:
//
//	YOKED_STORE             "memory" (default), "memory://?max_bytes=N", or a
//	                        redis://, rediss://, redis-cluster:// or unix:// URL
//	                        (a Redis store has an in-process near-cache, the
//	                        L1, unless l1=false)
//	YOKED_NAMESPACE         namespace of the store (default "default")
//	YOKED_TTL               Go duration, e.g. "30s" (default 5m)
//	YOKED_MAX_ROWS          largest cached result in rows (default 10000)
//	YOKED_MAX_RESULT_BYTES  largest cached result in bytes (default 1 MiB)
//	YOKED_DISABLE           "1"/"true" turns caching off
//	YOKED_STRICT            "1"/"true": a write is not sent when the shared
//	                        store cannot mark it first (see WithStrictStore);
//	                        also strict=true in the store URL
//	YOKED_FEED_MAX_LAG      Go duration: rely on a change feed, bypassing the
//	                        cache while its heartbeat is older (WithChangeFeed;
//	                        also feed=<duration> on the store URL)
//	YOKED_ROW_TAGS          boolean: row-level invalidation (default on; also
//	                        row_tags= in the URL)
//	YOKED_L1                boolean: the Redis store's L1 near-cache (default
//	                        on; also l1= in the URL, see WithL1)
//
// A malformed value is an error from sql.Open / OpenDB, never a panic and
// never silently ignored.
type Config struct {
	Store          tagstore.Store
	StoreURL       string
	Namespace      string
	TTL            time.Duration
	MaxRows        int
	MaxResultBytes int
	Dialect        string
	Identity       string
	Logger         *slog.Logger
	Disabled       bool
	// Dependencies are declared writes (WithDependencies): a write to a key
	// also invalidates the tables it lists.
	Dependencies map[string][]string
	// NoCatalog: the schema catalog is not read (WithoutCatalog).
	NoCatalog bool
	// Strict: writes fail before they are sent when the shared store cannot
	// mark them (WithStrictStore).
	Strict bool
	// FeedMaxLag: reads bypass the cache while the change feed's heartbeat
	// is older (WithChangeFeed); zero: no feed is required.
	FeedMaxLag time.Duration

	// openStore, when set (WithRedisClient), opens the store instead of
	// StoreURL; openStoreName identifies what it opens, for sharing.
	openStore     func(*Config) (tagstore.Store, error)
	openStoreName string
	defaultLogger bool // no WithLogger: Logger discards
	// RowTags turns row-level invalidation on or off (WithRowTags,
	// YOKED_ROW_TAGS, row_tags= in the store URL); nil means on, see
	// WithRowTags. Processes with it on and off may share a store.
	RowTags *bool
	// L1 turns the Redis store's in-process near-cache on or off (WithL1,
	// YOKED_L1, l1= in the store URL); nil means on.
	L1 *bool
	// Observer sees read decisions and invalidations (WithObserver); nil: none.
	Observer Observer
}

// ErrConfig wraps every configuration error.
var ErrConfig = errors.New("yoked: invalid configuration")

func configErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
}

// envConfig reads the YOKED_* variables through getenv.
func envConfig(getenv func(string) string) (Config, error) {
	var c Config
	c.StoreURL = strings.TrimSpace(getenv("YOKED_STORE"))
	c.Namespace = strings.TrimSpace(getenv("YOKED_NAMESPACE"))
	if v := strings.TrimSpace(getenv("YOKED_TTL")); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return c, configErr("YOKED_TTL=%q is not a non-negative Go duration such as 30s or 5m", v)
		}
		c.TTL = d
	}
	for _, iv := range []struct {
		name string
		dst  *int
	}{{"YOKED_MAX_ROWS", &c.MaxRows}, {"YOKED_MAX_RESULT_BYTES", &c.MaxResultBytes}} {
		if v := strings.TrimSpace(getenv(iv.name)); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return c, configErr("%s=%q is not a positive integer", iv.name, v)
			}
			*iv.dst = n
		}
	}
	if v := strings.TrimSpace(getenv("YOKED_FEED_MAX_LAG")); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return c, configErr("YOKED_FEED_MAX_LAG=%q is not a non-negative Go duration such as 1s", v)
		}
		c.FeedMaxLag = d
	}
	if v := strings.TrimSpace(getenv("YOKED_DISABLE")); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, configErr("YOKED_DISABLE=%q is not a boolean", v)
		}
		c.Disabled = b
	}
	if v := strings.TrimSpace(getenv("YOKED_STRICT")); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, configErr("YOKED_STRICT=%q is not a boolean", v)
		}
		c.Strict = b
	}
	if v := strings.TrimSpace(getenv("YOKED_ROW_TAGS")); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, configErr("YOKED_ROW_TAGS=%q is not a boolean", v)
		}
		c.RowTags = &b
	}
	if v := strings.TrimSpace(getenv("YOKED_L1")); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, configErr("YOKED_L1=%q is not a boolean", v)
		}
		c.L1 = &b
	}
	return c, nil
}

// takeURLBool removes name=<bool> from the query of the store URL (the
// store itself does not know it) and returns its value; ok is false when
// the URL does not carry it.
func takeURLBool(c *Config, name string) (b, ok bool, err error) {
	raw := c.StoreURL
	i := strings.IndexByte(raw, '?')
	if i < 0 || !strings.Contains(raw[i:], name+"=") {
		return false, false, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return false, false, configErr("store URL: %v", err)
	}
	q := u.Query()
	vs, ok := q[name]
	if !ok {
		return false, false, nil
	}
	v := vs[len(vs)-1]
	if b, err = strconv.ParseBool(v); err != nil {
		return false, false, configErr("store URL: %s=%q is not a boolean", name, v)
	}
	q.Del(name)
	// Only the query changes: url.URL.String would respell the rest
	// (memory://?x becomes memory:?x).
	c.StoreURL = raw[:i]
	if len(q) > 0 {
		c.StoreURL += "?" + q.Encode()
	}
	return b, true, nil
}

// resolveConfig builds the Config for a connector: environment, then options,
// then defaults.
func resolveConfig(opts []Option) (Config, error) {
	c, err := envConfig(os.Getenv)
	if err != nil {
		return c, err
	}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	strict, ok, err := takeURLBool(&c, "strict")
	if err != nil {
		return c, err
	}
	c.Strict = c.Strict || ok && strict
	if err := feedFromURL(&c); err != nil {
		return c, err
	}
	if c.FeedMaxLag < 0 {
		return c, configErr("change feed max lag %v is negative", c.FeedMaxLag)
	}
	rowTags, ok, err := takeURLBool(&c, "row_tags")
	if err != nil {
		return c, err
	}
	if ok {
		c.RowTags = &rowTags
	}
	l1, ok, err := takeURLBool(&c, "l1")
	if err != nil {
		return c, err
	}
	if ok {
		c.L1 = &l1
	}
	if c.Namespace == "" {
		c.Namespace = DefaultNamespace
	}
	if strings.ContainsAny(c.Namespace, " \t\r\n{}") {
		return c, configErr("namespace %q may not contain spaces or braces", c.Namespace)
	}
	if c.TTL < 0 {
		return c, configErr("TTL %v is negative", c.TTL)
	}
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.MaxRows < 0 || c.MaxResultBytes < 0 {
		return c, configErr("MaxRows and MaxResultBytes must not be negative")
	}
	if c.MaxRows == 0 {
		c.MaxRows = DefaultMaxRows
	}
	if c.MaxResultBytes == 0 {
		c.MaxResultBytes = DefaultMaxResultBytes
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
		c.defaultLogger = true
	}
	return c, nil
}
