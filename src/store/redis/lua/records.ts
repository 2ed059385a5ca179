// Lua scripts of the records (collections), run atomically by Redis.
// Conventions: KEYS[1] is the record (or counter, or index) key; `now` comes from the
// injected clock as a decimal string; epoch-ms values stay strings where possible so no
// precision is lost to Lua's doubles.

/** Deletes a record and drops it from its user's index. Shared by the scripts below. */
const LUA_REMOVE = `
local function remove(key, u, uprefix, id)
  redis.call('DEL', key)
  if u then redis.call('SREM', uprefix .. u, id) end
end
`;

/**
 * upsert. ARGV: value, expiresAt, ttlMs, now, userIndexPrefix, id, userId or '',
 * clientIndexPrefix, clientId or '', groupKey or '', max. Keeps `c` of a live previous
 * record; replaces everything else. With a group: adds the record to it and destroys the
 * group's oldest live, unconsumed records beyond `max`.
 */
export const LUA_UPSERT = `${LUA_REMOVE}
local key = KEYS[1]
local value, expiresAt, ttl, now = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local uprefix, id, newU = ARGV[5], ARGV[6], ARGV[7]
local kprefix, newK = ARGV[8], ARGV[9]
local gkey, max = ARGV[10], tonumber(ARGV[11])
if newU == '' then newU = nil end
if newK == '' then newK = nil end
local old = redis.call('HMGET', key, 'e', 'u', 'c')
local oldE, oldU, oldC = tonumber(old[1] or ''), old[2], old[3]
local keepC = oldC and oldE and oldE > now
if oldU and oldU ~= newU then redis.call('SREM', uprefix .. oldU, id) end
redis.call('DEL', key)
local fields = { 'v', value, 'e', expiresAt }
if keepC then
  fields[#fields + 1] = 'c'
  fields[#fields + 1] = oldC
end
if newU then
  fields[#fields + 1] = 'u'
  fields[#fields + 1] = newU
end
if newK then
  fields[#fields + 1] = 'k'
  fields[#fields + 1] = newK
end
if gkey ~= '' then
  fields[#fields + 1] = 'g'
  fields[#fields + 1] = gkey
end
redis.call('HSET', key, unpack(fields))
redis.call('PEXPIRE', key, ARGV[3])
if newU then
  local ikey = uprefix .. newU
  redis.call('SADD', ikey, id)
  if redis.call('PTTL', ikey) < ttl then redis.call('PEXPIRE', ikey, ARGV[3]) end
end
if newK then
  local kkey = kprefix .. newK
  redis.call('ZREMRANGEBYSCORE', kkey, '-inf', ARGV[4])
  redis.call('ZADD', kkey, expiresAt, id)
  if redis.call('PTTL', kkey) < ttl then redis.call('PEXPIRE', kkey, ARGV[3]) end
end
if gkey == '' then return 1 end
local rprefix = string.sub(key, 1, #key - #id)
local top = 0
local members = redis.call('ZRANGE', gkey, 0, -1, 'WITHSCORES')
for i = 1, #members, 2 do
  local m, score = members[i], tonumber(members[i + 1])
  if score > top then top = score end
  if m ~= id then
    local mkey = rprefix .. m
    local r = redis.call('HMGET', mkey, 'e', 'u', 'c', 'g')
    local e = tonumber(r[1] or '')
    if r[4] ~= gkey then
      redis.call('ZREM', gkey, m)
    elseif not e or e <= now then
      remove(mkey, r[2], uprefix, m)
      redis.call('ZREM', gkey, m)
    elseif r[3] then
      redis.call('ZREM', gkey, m)
    end
  end
end
if keepC then
  redis.call('ZREM', gkey, id)
else
  redis.call('ZADD', gkey, top + 1, id)
end
local over = redis.call('ZCARD', gkey) - max
if over > 0 then
  for _, m in ipairs(redis.call('ZRANGE', gkey, 0, over - 1)) do
    local mkey = rprefix .. m
    remove(mkey, redis.call('HGET', mkey, 'u'), uprefix, m)
    redis.call('ZREM', gkey, m)
  end
end
if redis.call('PTTL', gkey) < ttl then redis.call('PEXPIRE', gkey, ARGV[3]) end
return 1
`;

/**
 * update. ARGV: value, expiresAt, ttlMs, now, userIndexPrefix, id. Replaces value and
 * lifetime of a live record, keeping `u` and `c`; never creates one. Returns 1 if updated.
 */
export const LUA_UPDATE = `${LUA_REMOVE}
local key = KEYS[1]
local value, expiresAt, ttl, now = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local r = redis.call('HMGET', key, 'e', 'u', 'g')
local e, u, g = tonumber(r[1] or ''), r[2], r[3]
if not e or e <= now then
  if redis.call('EXISTS', key) == 1 then remove(key, u, ARGV[5], ARGV[6]) end
  return 0
end
redis.call('HSET', key, 'v', value, 'e', expiresAt)
redis.call('PEXPIRE', key, ARGV[3])
if u then
  local ikey = ARGV[5] .. u
  if redis.call('PTTL', ikey) < ttl then redis.call('PEXPIRE', ikey, ARGV[3]) end
end
if g and redis.call('PTTL', g) < ttl then redis.call('PEXPIRE', g, ARGV[3]) end
return 1
`;

/**
 * consume. ARGV: now, userIndexPrefix, id. Returns the hash as it was (flat field/value
 * list) and sets `c = now` if absent; nil when the record is missing or expired.
 */
export const LUA_CONSUME = `${LUA_REMOVE}
local key, now = KEYS[1], tonumber(ARGV[1])
local h = redis.call('HGETALL', key)
if #h == 0 then return nil end
local e, u, c
for i = 1, #h, 2 do
  if h[i] == 'e' then e = h[i + 1] elseif h[i] == 'u' then u = h[i + 1] elseif h[i] == 'c' then c = h[i + 1] end
end
if not e or tonumber(e) == nil or tonumber(e) <= now then
  remove(key, u, ARGV[2], ARGV[3])
  return nil
end
if not c then redis.call('HSET', key, 'c', ARGV[1]) end
return h
`;

/**
 * Deletes the record if it has expired by the clock (a concurrent upsert may have renewed
 * it since it was read). ARGV: now, userIndexPrefix, id. Returns 1 when it deleted.
 */
export const LUA_PURGE = `${LUA_REMOVE}
local key, now = KEYS[1], tonumber(ARGV[1])
local r = redis.call('HMGET', key, 'e', 'u')
if r[1] and tonumber(r[1]) ~= nil and tonumber(r[1]) > now then return 0 end
if not r[1] and redis.call('EXISTS', key) == 0 then return 0 end
remove(key, r[2], ARGV[2], ARGV[3])
return 1
`;

/** destroy. ARGV: now, userIndexPrefix, id. Returns 1 when a live record was removed. */
export const LUA_DESTROY = `${LUA_REMOVE}
local key, now = KEYS[1], tonumber(ARGV[1])
if redis.call('EXISTS', key) == 0 then return 0 end
local r = redis.call('HMGET', key, 'e', 'u')
remove(key, r[2], ARGV[2], ARGV[3])
if r[1] and tonumber(r[1]) ~= nil and tonumber(r[1]) > now then return 1 end
return 0
`;

/**
 * destroyByUser. KEYS[1]: the user's index set. ARGV: now, recordKeyPrefix, userId.
 * Deletes every record of the set that still belongs to the user, then the set; returns
 * how many of them were live.
 */
export const LUA_DESTROY_BY_USER = `
local ikey, now, rprefix, userId = KEYS[1], tonumber(ARGV[1]), ARGV[2], ARGV[3]
local n = 0
for _, id in ipairs(redis.call('SMEMBERS', ikey)) do
  local key = rprefix .. id
  local r = redis.call('HMGET', key, 'e', 'u')
  if r[2] == userId then
    redis.call('DEL', key)
    if r[1] and tonumber(r[1]) ~= nil and tonumber(r[1]) > now then n = n + 1 end
  end
end
redis.call('DEL', ikey)
return n
`;

/**
 * destroyByClient. KEYS[1]: the client's index (sorted set). ARGV: now, recordKeyPrefix,
 * clientId, userIndexPrefix. Deletes every record of the index that still belongs to the
 * client (dropping it from its user's index too), then the index; returns how many of
 * them were live.
 */
export const LUA_DESTROY_BY_CLIENT = `${LUA_REMOVE}
local kkey, now, rprefix, clientId, uprefix = KEYS[1], tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4]
local n = 0
for _, id in ipairs(redis.call('ZRANGE', kkey, 0, -1)) do
  local key = rprefix .. id
  local r = redis.call('HMGET', key, 'e', 'u', 'k')
  if r[3] == clientId then
    remove(key, r[2], uprefix, id)
    if r[1] and tonumber(r[1]) ~= nil and tonumber(r[1]) > now then n = n + 1 end
  end
end
redis.call('DEL', kkey)
return n
`;

/**
 * Cleans a user's index after listByUser found stale entries. KEYS[1]: the index set.
 * ARGV: now, recordKeyPrefix, userId, id... Drops ids whose record is gone or belongs to
 * someone else, and deletes records that have expired by the clock. Each id is re-checked
 * here, so a record renewed since it was read is left alone.
 */
export const LUA_PRUNE_INDEX = `
local ikey, now, rprefix, userId = KEYS[1], tonumber(ARGV[1]), ARGV[2], ARGV[3]
for i = 4, #ARGV do
  local id = ARGV[i]
  local key = rprefix .. id
  local r = redis.call('HMGET', key, 'e', 'u')
  if r[2] ~= userId then
    redis.call('SREM', ikey, id)
  elseif not r[1] or tonumber(r[1]) == nil or tonumber(r[1]) <= now then
    redis.call('DEL', key)
    redis.call('SREM', ikey, id)
  end
end
return 1
`;
