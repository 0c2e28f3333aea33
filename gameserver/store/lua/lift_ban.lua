-- KEYS: meta, tokens.  ARGV: ban id (a prefix of the token hash).  Returns 1 if a ban was lifted.
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  if string.sub(all[i], 1, #ARGV[1]) == ARGV[1] and all[i + 1] ~= 'ok' then
    redis.call('HSET', KEYS[2], all[i], 'ok')
    return 1
  end
end
return 0
