-- KEYS: meta, events, snap, claims, index, ctl, peers, tokens, cmds, cmdq, chat.
-- ARGV: battle_id, code key prefix.
local meta = redis.call('HGET', KEYS[1], 'meta')
if meta then
  local code = cjson.decode(meta)['join_code']
  local ckey = ARGV[2] .. string.upper(code)
  if redis.call('GET', ckey) == ARGV[1] then redis.call('DEL', ckey) end
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11])
return redis.call('ZREM', KEYS[5], ARGV[1])
