// Lua scripts of the fixed-window counters (conventions: see ./records.ts).

/**
 * Counts one event on a counter: `hit(key, now, windowMs, resetAt)` returns n, resetAt.
 * The physical TTL runs to the window's end (at least 1 ms). Shared by the scripts below.
 */
const LUA_HIT_FN = `
local function hit(key, now, windowMs, newResetAt)
  local r = redis.call('HMGET', key, 'n', 'r')
  local resetAt = tonumber(r[2])
  if not r[1] or resetAt == nil or resetAt <= now then
    redis.call('DEL', key)
    redis.call('HSET', key, 'n', 1, 'r', newResetAt)
    redis.call('PEXPIRE', key, windowMs)
    return 1, newResetAt
  end
  local n = redis.call('HINCRBY', key, 'n', 1)
  local left = resetAt - now
  if left < 1 then left = 1 end
  redis.call('PEXPIRE', key, left)
  return n, r[2]
end
`;

/** Takes one event back from a running window (never below zero): `undo(key, now)`. Shared. */
const LUA_UNDO_FN = `
local function undo(key, now)
  local r = redis.call('HMGET', key, 'n', 'r')
  if not r[1] then return 0 end
  local resetAt = tonumber(r[2])
  if resetAt == nil or resetAt <= now then return 0 end
  if tonumber(r[1]) > 0 then redis.call('HINCRBY', key, 'n', -1) end
  return 1
end
`;

/** hit. KEYS[1]: the counter. ARGV: now, windowMs, now + windowMs. Returns { n, resetAt }. */
export const LUA_HIT = `${LUA_HIT_FN}
local n, resetAt = hit(KEYS[1], tonumber(ARGV[1]), ARGV[2], ARGV[3])
return { n, resetAt }
`;

/**
 * hitChain. KEYS: the counters, in order. ARGV: now, then per key windowMs, now + windowMs,
 * limit. Counts one on each key in order and stops after the first whose count went over
 * its limit. Returns { n1, resetAt1, n2, resetAt2, ... } for the keys counted.
 */
export const LUA_HIT_CHAIN = `${LUA_HIT_FN}
local now = tonumber(ARGV[1])
local out = {}
for i, key in ipairs(KEYS) do
  local at = 3 * i - 1
  local n, resetAt = hit(key, now, ARGV[at], ARGV[at + 1])
  out[#out + 1] = n
  out[#out + 1] = resetAt
  if n > tonumber(ARGV[at + 2]) then break end
end
return out
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

/** undo. KEYS[1]: the counter. ARGV: now. */
export const LUA_COUNTER_UNDO = `${LUA_UNDO_FN}
return undo(KEYS[1], tonumber(ARGV[1]))
`;

/**
 * release. KEYS: the counters, in order. ARGV: now, then per key 'u' (undo: one back from a
 * running window, never below zero) or 'r' (reset: the window ends). Returns the count of keys.
 */
export const LUA_COUNTER_RELEASE = `${LUA_UNDO_FN}
local now = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  if ARGV[i + 1] == 'u' then undo(key, now) else redis.call('DEL', key) end
end
return #KEYS
`;
