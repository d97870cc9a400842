// Package redisstore is a tagstore.Store kept in Redis, shared by every
// process that uses the same Redis and namespace: one node, Sentinel or
// Cluster through redis.UniversalClient.
//
// Layout. Tag versions are random 64-bit tokens written by clients, so a
// version never comes back to an earlier value and a lost version key is a
// miss. All version keys of a namespace share one hash slot
// ("{yoked:<ns>}:v:<tag>"), so one script reads or bumps any number of them;
// entries ("yoked:<ns>:e:k:<key>", or ":e:h:<sha256>" for long keys) spread
// over the cluster. An entry holds the tags and versions it was stored under
// and the encoded value.
//
// Costs. A Lookup is one round trip, hit or miss: a pipeline of GET entry and
// one script on the version slot that returns the current versions and
// creates missing ones. InvalidateTags is one script on the version slot,
// O(1) in the number of entries. Only InvalidatePattern and Flush walk the
// namespace (SCAN and UNLINK in batches, never KEYS or FLUSHDB).
//
// Restarts. Every new connection marks the namespace "unchecked"; before the
// next operation is trusted, a script compares the version node's run_id to
// the one recorded in the namespace and, when Redis restarted (possibly from
// an old snapshot), bumps the namespace version (tagstore.AllTag), so that
// nothing stored before the restart is served.
//
// Faults. Reads carry a short timeout; errors are returned (the caller then
// reads the source of truth and does not cache), and after repeated failures
// a circuit breaker answers tagstore.ErrBypass at once until a probe
// succeeds. Nothing is retried silently.
//
// Operators. Keys, Inspect and Usage list and measure the namespace's
// entries (SCAN, never KEYS) and tell whether each is still valid against
// the current versions, without creating any. Every Store also adds its
// counters to a per-namespace hash ("{yoked:<ns>}:stats") from a background
// goroutine every Options.StatsInterval and at Close, never on a Lookup's
// round trip; SharedStats reads the sums of every process back.
//
// L1. With Options.L1, an in-process store answers hot hits without a round
// trip. Invalidations are published on a namespace channel by the same
// script that bumps the versions; every subscribed process bumps the tags in
// its L1. A process whose subscription drops stops using its L1 and
// invalidates it, and uses it again only after resubscribing. In the process
// that invalidates, InvalidateTags keeps its guarantee exactly; other
// processes stop serving the old L1 entries when the message reaches them
// (typically well under a millisecond later), and L1 entries expire after
// Options.L1TTL in any case.
package redisstore
