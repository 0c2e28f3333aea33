-- KEYS: meta, events, code, index.  ARGV: battle_id, meta JSON, now, event JSON...
if redis.call('EXISTS', KEYS[1]) == 1 then return 'id' end
if redis.call('EXISTS', KEYS[3]) == 1 then return 'code' end
redis.call('SET', KEYS[3], ARGV[1])
local n = #ARGV - 3
for i = 1, n do
  redis.call('XADD', KEYS[2], string.format('%d-0', i), 'e', ARGV[3 + i])
end
redis.call('HSET', KEYS[1], 'meta', ARGV[2], 'seq', n)
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1])
return 'ok'
