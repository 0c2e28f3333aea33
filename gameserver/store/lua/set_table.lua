-- KEYS: meta.  ARGV: table rules JSON.  Only for a battle that exists.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'table', ARGV[1])
return 1
