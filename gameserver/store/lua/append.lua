-- KEYS: meta, events, index, claims, notify.
-- ARGV: battle_id, expected_seq, now, append_token, guard token hash ('' = no guard), k,
--       k claim fields the guard requires, event JSON...
local cur = redis.call('HGET', KEYS[1], 'seq')
if not cur then return {-1, 0} end
cur = tonumber(cur)
local expected = tonumber(ARGV[2])
local k = tonumber(ARGV[6])
local first = 7 + k
local n = #ARGV - first + 1
if cur ~= expected then
  -- A retry of an append whose reply was lost (dropped connection) finds its own token on the
  -- first entry it wrote: report success instead of a conflict that would re-decide the command.
  if n > 0 and cur >= expected + n then
    local id = string.format('%d-0', expected + 1)
    local got = redis.call('XRANGE', KEYS[2], id, id)
    if got[1] then
      local f = got[1][2]
      for i = 1, #f, 2 do
        if f[i] == 'a' and f[i + 1] == ARGV[4] then return {1, expected + n} end
      end
    end
  end
  return {0, cur}
end
if k > 0 then
  -- The writer's claims: every guarded station still bound to its resume-token hash.
  local held = redis.call('HMGET', KEYS[4], unpack(ARGV, 7, 6 + k))
  local lost = {2, cur}
  for i = 1, k do
    if not held[i] or cjson.decode(held[i])['token_hash'] ~= ARGV[5] then
      lost[#lost + 1] = ARGV[6 + i]
    end
  end
  if #lost > 2 then return lost end
end
for i = 1, n do
  local id = string.format('%d-0', expected + i)
  if i == 1 then
    redis.call('XADD', KEYS[2], id, 'e', ARGV[first], 'a', ARGV[4])
  else
    redis.call('XADD', KEYS[2], id, 'e', ARGV[first + i - 1])
  end
end
if n > 0 then
  redis.call('HSET', KEYS[1], 'seq', expected + n)
  -- Tell every instance's reader which battle moved and how far (not the events themselves).
  redis.call('XADD', KEYS[5], 'MAXLEN', '~', NOTIFY_MAXLEN, '*', 'b', ARGV[1], 's', expected + n)
end
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
return {1, expected + n}
