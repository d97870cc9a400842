package redisstore

import "github.com/redis/go-redis/v9"

// All scripts touch only keys of the namespace's version slot, and publish
// only on channels of that slot.

// publishLua defines publish(i) for the scripts that publish: ARGV[i] is
// PUBLISH, or SPUBLISH on a Cluster (a shard channel of the namespace's
// slot, so that the node running the script counts every subscriber),
// ARGV[i+1] the channel and ARGV[i+2] the message; unless ARGV[i+3] is
// empty, ARGV[i+4] is then published on it (a writer without an L1
// acknowledges its own message that way, see acks.go). It returns the
// first publish's receivers. Store.pubArgs builds the five arguments.
const publishLua = `
local function publish(i)
  local n = redis.call(ARGV[i], ARGV[i+1], ARGV[i+2])
  if ARGV[i+3] ~= '' then
    redis.call(ARGV[i], ARGV[i+3], ARGV[i+4])
  end
  return n
end
`

// stampScript returns the versions of KEYS, setting missing ones to the
// fresh tokens in ARGV, to expire after ARGV[#KEYS+1] ms (0: never) unless
// the key is ARGV[#KEYS+2] (the namespace version, which never expires).
var stampScript = redis.NewScript(`
local n = #KEYS
local ttl = tonumber(ARGV[n + 1])
local r = {}
for i, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  if not v then
    v = ARGV[i]
    if ttl > 0 and k ~= ARGV[n + 2] then
      redis.call('SET', k, v, 'PX', ttl)
    else
      redis.call('SET', k, v)
    end
  end
  r[i] = v
end
return r`)

// bumpScript deletes the versions KEYS (the next Stamp creates fresh random
// ones, so a deleted version is a new version for every reader) and, in the
// same atomic step, publishes (ARGV: publishLua's arguments). It returns
// the number of subscribers that received the message. DEL and PUBLISH need no
// memory, so the script runs even when Redis refuses writes for maxmemory.
// A version that is an in-flight marker ("!", see inflight.go) is left in
// place: nothing can be stored under it, and the write that set it deletes
// it when it ends.
var bumpScript = redis.NewScript(publishLua + `
for _, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  if v and string.byte(v, 1) ~= 33 then
    redis.call('DEL', k)
  end
end
return publish(1)`)

// publishScript only publishes (ARGV: publishLua's arguments); KEYS[1], a
// key of the version slot it does not touch, routes it on a Cluster.
var publishScript = redis.NewScript(publishLua + `
return publish(1)`)

// markScript marks a write in flight (inflight.go). KEYS are n version keys
// followed by their n mark sets; ARGV: mark id, lifetime in ms, then
// publishLua's arguments. Each mark set is a sorted set of mark ids scored by expiry (Unix
// ms, Redis's clock); the version becomes "!" followed by the latest expiry
// and expires with it, so readers meet the marker until the last mark ends
// or expires and then create a fresh version. Expired marks are pruned by
// endScript (they cannot hold the latest expiry). Returns PUBLISH's count.
var markScript = redis.NewScript(publishLua + `
local n = #KEYS / 2
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local exp = now + tonumber(ARGV[2])
for i = 1, n do
  local f = KEYS[n + i]
  redis.call('ZADD', f, exp, ARGV[1])
  local top = redis.call('ZRANGE', f, -1, -1, 'WITHSCORES')
  redis.call('SET', KEYS[i], '!' .. top[2], 'PXAT', top[2])
  redis.call('PEXPIREAT', f, top[2])
end
return publish(3)`)

// endScript ends the mark ARGV[1] on the same keys as markScript (n version
// keys, n mark sets), optionally followed by one more version key to read:
// it removes the mark and then deletes each version (a fresh one is created
// by the next reader), or leaves the marker of the other marks still in
// flight. ARGV[2..6]: publishLua's arguments. It returns {PUBLISH's count,
// intact, the extra key's value or false}. intact is 1 when the mark was
// still in place on every tag (not expired, its marker neither evicted nor
// replaced), so that no reader can have stored anything since the mark,
// nor any L1 filled from Redis: then nothing is published (every L1
// dropped the tags at the mark and none can hold them since) and the count
// is 0. Otherwise it publishes. The extra key is read last, after the
// write returned and in the same step as its end (the driver's schema
// epoch, see tagstore.EndReader).
var endScript = redis.NewScript(publishLua + `
local n = math.floor(#KEYS / 2)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local intact = 1
for i = 1, n do
  local f = KEYS[n + i]
  local sc = redis.call('ZSCORE', f, ARGV[1])
  local v = redis.call('GET', KEYS[i])
  if (not sc) or tonumber(sc) <= now or (not v) or string.byte(v, 1) ~= 33 then
    intact = 0 -- expired, evicted or replaced: readers may have filled
  end
  if sc then
    redis.call('ZREM', f, ARGV[1])
  end
  redis.call('ZREMRANGEBYSCORE', f, '-inf', now)
  local top = redis.call('ZRANGE', f, -1, -1, 'WITHSCORES')
  if not top[2] then
    redis.call('DEL', KEYS[i])
  elseif v ~= '!' .. top[2] then
    redis.call('SET', KEYS[i], '!' .. top[2], 'PXAT', top[2])
  end
end
local pub = 0
if intact == 0 then
  pub = publish(2)
end
local read = false
if #KEYS > 2 * n then
  read = redis.call('GET', KEYS[#KEYS])
end
return {pub, intact, read}`)

// epochScript compares this server's run_id with the one recorded in
// KEYS[1]; when they differ (Redis restarted, maybe from an old snapshot) it
// deletes the namespace version KEYS[2] (a fresh one is created by the next
// Stamp), records the run_id, publishes (ARGV: publishLua's arguments) and
// returns 1.
var epochScript = redis.NewScript(publishLua + `
local id = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
if not id then
  return redis.error_reply('no run_id in INFO server')
end
if redis.call('GET', KEYS[1]) == id then
  return 0
end
redis.call('DEL', KEYS[2])
publish(1)
redis.call('SET', KEYS[1], id)
return 1`)
