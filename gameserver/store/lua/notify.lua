-- KEYS: meta, ctl, notify.  ARGV: notice JSON, instance id, battle id.
-- Only for a battle that exists.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', 256, '*', 'n', ARGV[1], 'o', ARGV[2])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', NOTIFY_MAXLEN, '*', 'b', ARGV[3], 'o', ARGV[2])
return 1
