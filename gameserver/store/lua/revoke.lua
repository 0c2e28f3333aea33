-- KEYS: meta, claims, tokens.  ARGV: token_hash, the banned entry ('banned' US name).
-- Bans the token and frees every station it holds; returns the freed claims' JSON.
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
local freed = {}
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  if cjson.decode(all[i + 1])['token_hash'] == ARGV[1] then
    redis.call('HDEL', KEYS[2], all[i])
    freed[#freed + 1] = all[i + 1]
  end
end
return freed
