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

// bumpScript sets KEYS to the fresh tokens in ARGV and, in the same atomic
// step, publishes ARGV[#KEYS+2] on channel ARGV[#KEYS+1].
var bumpScript = redis.NewScript(`
local n = #KEYS
for i = 1, n do
  redis.call('SET', KEYS[i], ARGV[i])
end
redis.call('PUBLISH', ARGV[n+1], ARGV[n+2])
return n`)

// epochScript compares this server's run_id with the one recorded in
// KEYS[1]; when they differ (Redis restarted, maybe from an old snapshot) it
// gives the namespace version KEYS[2] the fresh token ARGV[1], records the
// run_id, publishes ARGV[3] on ARGV[2] and returns 1.
var epochScript = redis.NewScript(`
local id = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
if not id then
  return redis.error_reply('no run_id in INFO server')
end
if redis.call('GET', KEYS[1]) == id then
  return 0
end
redis.call('SET', KEYS[2], ARGV[1])
redis.call('SET', KEYS[1], id)
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1`)
