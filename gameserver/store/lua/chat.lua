-- KEYS: meta, chat.  ARGV: chat entry JSON (without its id), lines to keep.
-- Only for a battle that exists; the id is the meta hash's `chat_seq`, counted here.
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local entry = cjson.decode(ARGV[1])
entry['id'] = redis.call('HINCRBY', KEYS[1], 'chat_seq', 1)
local encoded = cjson.encode(entry)
redis.call('RPUSH', KEYS[2], encoded)
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
return encoded
