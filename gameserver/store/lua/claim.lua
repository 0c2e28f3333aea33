-- KEYS: meta, claims.  ARGV: field, claim JSON, token_hash.  Returns the holder's claim JSON.
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local held = redis.call('HGET', KEYS[2], ARGV[1])
if held and cjson.decode(held)['token_hash'] ~= ARGV[3] then return held end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return ARGV[2]
