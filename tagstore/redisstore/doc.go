// Package redisstore is a tagstore.Store kept in Redis, shared by every
// process that uses the same Redis and namespace: one node, Sentinel or
// Cluster through redis.UniversalClient.
//
// Layout. Tag versions are random 64-bit tokens written by clients, so a
// version never comes back to an earlier value and a lost version key is a
// miss; invalidating a tag deletes its version. All version keys of a namespace share one hash slot
// ("{yoked:<ns>}:v:<tag>"), so one MGET or script reads or bumps any number of them;
// entries ("yoked:<ns>:e:k:<key>", or ":e:h:<sha256>" for long keys) spread
// over the cluster. An entry holds the tags and versions it was stored under
// and the encoded value.
//
// Costs. A hit is one round trip: a pipeline of GET entry and MGET of the
// versions on the version slot, no script (a script costs Redis many times
// what MGET does). So is a miss whose tags all have versions; a miss that
// meets a missing version (never created, invalidated, evicted) takes a
// second round trip, still no script: SET NX of a fresh version for each
// missing one and MGET of all (a version deleted again in between sends it
// to a script that does both in one step). Stamp is the MGET alone, with
// the same second round trip when needed. InvalidateTags is one script on the version slot,
// O(1) in the number of entries (plus, with L1s, the wait described below). Only InvalidatePattern and Flush walk the
// namespace (SCAN and UNLINK in batches, never KEYS or FLUSHDB). A write
// marked in flight (MarkWrite, EndWrite, see inflight.go) is two scripts;
// the end also reads one more version for the caller (EndWriteRead: the
// driver's schema epoch) and, when its mark was intact, publishes nothing.
//
// Restarts. Every new connection marks the namespace "unchecked"; before the
// next operation is trusted, a script compares the version node's run_id to
// the one recorded in the namespace and, when Redis restarted (possibly from
// an old snapshot), deletes the namespace version (tagstore.AllTag), so that
// nothing stored before the restart is served.
//
// Faults. Reads carry a short timeout; errors are returned (the caller then
// reads the source of truth and does not cache), and after repeated failures
// a circuit breaker answers tagstore.ErrBypass at once until a probe
// succeeds (a PING every 5ms in the background). Nothing is retried
// silently. A store from NewFromURL dials whenever a command needs a
// connection: go-redis's own pool would stop dialling after PoolSize
// failed dials and redial once a second, keeping a process away from a
// restarted Redis that others already use.
//
// Operators. Keys, Inspect and Usage list and measure the namespace's
// entries (SCAN, never KEYS) and tell whether each is still valid against
// the current versions, without creating any. Every Store also adds its
// counters to a per-namespace hash ("{yoked:<ns>}:stats") from a background
// goroutine every Options.StatsInterval and at Close, never on a Lookup's
// round trip; SharedStats reads the sums of every process back.
//
// L1. With Options.L1, an in-process store answers hot hits without a round
// trip, with the same guarantee across processes as without it: once
// InvalidateTags returns, no Lookup that starts afterwards in any process
// answers from an older entry. Invalidations are published on a namespace
// channel ("{yoked:<ns>}:inval") by the same script that deletes the
// versions; it returns how many subscribers N received the message, which
// carries the writer's id and a sequence number. Every subscribed process
// drops the tags from its L1 and then acknowledges on the writer's ack
// channel. Every L1 process also publishes a heartbeat every δ/4 (δ:
// Options.L1Fence, default 50ms) on "{yoked:<ns>}:hb". InvalidateTags
// returns when N acknowledgements have arrived and every process heard
// from lately has acknowledged too, or when δ has passed since the script
// replied, whichever comes first. For the second case every L1 process
// answers from L1 at time r only if its own heartbeat sent after r-δ has
// come back on its subscription. Messages of one node come in order, so if
// the writer returned at w+δ or later (w: the script's reply, after the
// publish) and a read starts at r > w+δ, the heartbeat was sent after the
// publish and the message was applied before it came back. Each process
// measures only its own monotonic clock. A process that subscribes after
// the publish empties its L1 on the subscription's confirmation; one whose
// subscription drops (or goes without a pong for Options.L1Heartbeat)
// stops using its L1, empties it and uses it again only after
// resubscribing. L1 entries also expire after Options.L1TTL.
//
// Counting exactly. A Store without an L1 subscribes too, to the
// heartbeats and its ack channel only (it is no receiver of the
// invalidations), so that its invalidations wait for exactly the L1s that
// may answer. The writer's own acknowledgement (its message coming back
// to its L1, or a second publish on its ack channel by the same script)
// proves that its subscription was alive after the publish, so no
// heartbeat published before went unheard. On a Cluster (Redis 7 or
// later) all of these channels are shard channels of the namespace's slot
// (SPUBLISH, SSUBSCRIBE): the node that runs the script delivers and
// counts every message, in order.
//
// The cost: an invalidation seen by other L1 processes takes one more
// round trip (their acknowledgement); one that reaches a process that does
// not acknowledge (a slow or stuck process, a foreign SUBSCRIBE on the
// channel, a writer whose own subscription is not up or not yet two fences
// old) takes δ. On a Ring the publish count is not trusted, so every
// invalidation takes δ there. L1 stops answering in a process whose
// subscription falls δ behind.
//
// Memory. Invalidation needs no memory: the script deletes the versions
// (the next Stamp creates fresh random ones) and publishes, so it runs even
// while Redis refuses writes for maxmemory; readers then fail to create the
// missing versions and fail open.
package redisstore
