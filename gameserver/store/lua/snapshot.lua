-- KEYS: meta, snap.  ARGV: seq, schema version, state JSON.  Keeps only the newest snapshot.
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local have = tonumber(redis.call('HGET', KEYS[2], 'seq') or '-1')
if have >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[2], 'seq', ARGV[1], 'v', ARGV[2], 'state', ARGV[3])
return 1
