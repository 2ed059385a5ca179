// Lua scripts of the data generation (./generation.ts) and the guarded append (../revocations.ts).

/**
 * append. KEYS[1]: the stream. ARGV: marker key, expected generation, MINID, event JSON.
 * Appends only while the marker still holds the generation the caller knows; else nil
 * (the store lost its data, or was refilled since).
 */
export const LUA_GUARDED_APPEND = `
if redis.call('GET', ARGV[1]) ~= ARGV[2] then return false end
return redis.call('XADD', KEYS[1], 'MINID', '~', ARGV[3], '*', 'e', ARGV[4])
`;

/**
 * finish a refill. KEYS[1]: the refill lock. ARGV: lock token, marker key, new generation.
 * Only while the lock is still this refill's (a store emptied again meanwhile lost it too):
 * sets the marker unless one is set, drops the lock, returns the marker; else nil.
 */
export const LUA_FINISH_RESTORE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return false end
redis.call('SET', ARGV[2], ARGV[3], 'NX')
redis.call('DEL', KEYS[1])
return redis.call('GET', ARGV[2])
`;
