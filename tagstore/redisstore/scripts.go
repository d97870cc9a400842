package redisstore

import "github.com/redis/go-redis/v9"

// All scripts touch only keys of the namespace's version slot.

// stampScript returns the versions of KEYS, setting missing ones to the
// fresh tokens in ARGV.
var stampScript = redis.NewScript(`
local r = {}
for i, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  if not v then
    v = ARGV[i]
    redis.call('SET', k, v)
  end
  r[i] = v
end
return r`)

// bumpScript deletes the versions KEYS (the next Stamp creates fresh random
// ones, so a deleted version is a new version for every reader) and, in the
// same atomic step, publishes ARGV[2] on channel ARGV[1]. It returns the
// number of subscribers that received the message. DEL and PUBLISH need no
// memory, so the script runs even when Redis refuses writes for maxmemory.
var bumpScript = redis.NewScript(`
for _, k in ipairs(KEYS) do
  redis.call('DEL', k)
end
return redis.call('PUBLISH', ARGV[1], ARGV[2])`)

// epochScript compares this server's run_id with the one recorded in
// KEYS[1]; when they differ (Redis restarted, maybe from an old snapshot) it
// deletes the namespace version KEYS[2] (a fresh one is created by the next
// Stamp), records the run_id, publishes ARGV[2] on ARGV[1] and returns 1.
var epochScript = redis.NewScript(`
local id = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
if not id then
  return redis.error_reply('no run_id in INFO server')
end
if redis.call('GET', KEYS[1]) == id then
  return 0
end
redis.call('DEL', KEYS[2])
redis.call('PUBLISH', ARGV[1], ARGV[2])
redis.call('SET', KEYS[1], id)
return 1`)
