package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/yokedcache/yoked/tagstore/redisstore"
)

// storeFlags are the connection settings shared by the verbs that operate a
// store; empty values fall back to YOKED_STORE and YOKED_NAMESPACE, as in
// the driver.
type storeFlags struct {
	url       string
	namespace string
	timeout   time.Duration
}

func addStoreFlags(cmd *cobra.Command) *storeFlags {
	f := &storeFlags{}
	cmd.Flags().StringVar(&f.url, "redis-url", "", "store URL: redis://, rediss://, redis-cluster://, unix:///path/to/redis.sock (default $YOKED_STORE)")
	cmd.Flags().StringVar(&f.namespace, "namespace", "", "store namespace (default $YOKED_NAMESPACE, else \"default\")")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 5*time.Second, "how long to wait for the store on each operation")
	return f
}

// opened is a connected store and where it lives, for messages.
type opened struct {
	store     *redisstore.Store
	addr      string
	namespace string
}

// open resolves the store settings and connects. The in-process memory
// store cannot be reached from another process: that is a usage error.
func (f *storeFlags) open(ctx context.Context, e *env) (*opened, error) {
	raw := strings.TrimSpace(f.url)
	if raw == "" {
		raw = strings.TrimSpace(e.getenv("YOKED_STORE"))
	}
	ns := f.namespace
	if ns == "" {
		ns = strings.TrimSpace(e.getenv("YOKED_NAMESPACE"))
	}
	if raw == "" || raw == "memory" || strings.HasPrefix(raw, "memory:") {
		return nil, usagef("no shared store configured: the in-process memory store lives inside each application and cannot be reached from yokedcache; pass --redis-url or set YOKED_STORE to a redis:// URL")
	}
	if f.timeout <= 0 {
		return nil, usagef("--timeout must be positive")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, usagef("store URL %q does not parse: %v", raw, err)
	}
	switch u.Scheme {
	case "redis+cluster": // the spelling YOKED_STORE documents
		u.Scheme = "redis-cluster"
	case "rediss+cluster":
		u.Scheme = "rediss-cluster"
	}
	q := u.Query()
	q.Del("l1") // the near-cache is an application's concern
	q.Del("l1_ttl")
	u.RawQuery = q.Encode()
	addr := u.Host
	if addr == "" {
		addr = u.Path
	}
	s, err := redisstore.NewFromURL(u.String(), redisstore.Options{Namespace: ns, Timeout: f.timeout, InvalidateTimeout: f.timeout})
	if err != nil {
		return nil, usagef("store %s: %v", redact(u), err)
	}
	o := &opened{store: s, addr: addr, namespace: ns}
	if o.namespace == "" {
		o.namespace = q.Get("namespace")
	}
	if o.namespace == "" {
		o.namespace = "default"
	}
	if err := o.ping(ctx, f.timeout); err != nil {
		s.Close()
		return nil, err
	}
	return o, nil
}

func (o *opened) ping(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := o.store.Client().Ping(ctx).Err(); err != nil {
		return fmt.Errorf("cannot reach Redis at %s: %v", o.addr, err)
	}
	return nil
}

func (o *opened) Close() { o.store.Close() }

func redact(u *url.URL) string {
	if _, has := u.User.Password(); has {
		c := *u
		c.User = url.UserPassword(u.User.Username(), "xxxxx")
		return c.String()
	}
	return u.String()
}

// quietRedis drops go-redis's own log lines: the command reports every error
// itself, once, on one line.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}
