// Lua scripts of the fixed-window counters (conventions: see ./records.ts).

/**
 * hit. KEYS[1]: the counter. ARGV: now, windowMs, now + windowMs. Returns { n, resetAt }.
 * The physical TTL runs to the window's end (at least 1 ms).
 */
export const LUA_HIT = `
local key, now = KEYS[1], tonumber(ARGV[1])
local r = redis.call('HMGET', key, 'n', 'r')
local resetAt = tonumber(r[2])
if not r[1] or resetAt == nil or resetAt <= now then
  redis.call('DEL', key)
  redis.call('HSET', key, 'n', 1, 'r', ARGV[3])
  redis.call('PEXPIRE', key, ARGV[2])
  return { 1, ARGV[3] }
end
local n = redis.call('HINCRBY', key, 'n', 1)
local left = resetAt - now
if left < 1 then left = 1 end
redis.call('PEXPIRE', key, left)
return { n, r[2] }
`;

/** get. KEYS[1]: the counter. ARGV: now. Returns { n, resetAt } or nil (deleting an ended window). */
export const LUA_COUNTER_GET = `
local key, now = KEYS[1], tonumber(ARGV[1])
local r = redis.call('HMGET', key, 'n', 'r')
if not r[1] then return nil end
local resetAt = tonumber(r[2])
if resetAt == nil or resetAt <= now then
  redis.call('DEL', key)
  return nil
end
return { tonumber(r[1]), r[2] }
`;

/** Takes one back from a running window (never below zero). */
export const LUA_COUNTER_UNDO = `
local key, now = KEYS[1], tonumber(ARGV[1])
local r = redis.call('HMGET', key, 'n', 'r')
if not r[1] then return 0 end
local resetAt = tonumber(r[2])
if resetAt == nil or resetAt <= now then return 0 end
if tonumber(r[1]) > 0 then redis.call('HINCRBY', key, 'n', -1) end
return 1
`;
