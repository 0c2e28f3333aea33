-- KEYS: meta, peers, ctl, instance key, notify.
-- ARGV: instance id, peers JSON ('' = none), presence notice JSON, instance key TTL (ms),
--       battle id.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[2], ARGV[1])
else
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
end
redis.call('SET', KEYS[4], '1', 'PX', ARGV[4])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', 256, '*', 'n', ARGV[3], 'o', ARGV[1])
redis.call('XADD', KEYS[5], 'MAXLEN', '~', NOTIFY_MAXLEN, '*', 'b', ARGV[5], 'o', ARGV[1])
return 1
