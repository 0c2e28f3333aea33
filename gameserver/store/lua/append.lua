-- KEYS: meta, events, index, claims, notify, cmds (command key -> 'first:last'), cmdq (their
--       order, oldest first).
-- ARGV: battle_id, expected_seq, now, append_token, guard token hash ('' = no guard),
--       command key ('' = none), dedupe window, deadline (ms since the epoch, '' = none), k,
--       k claim fields the guard requires, event JSON...
local cur = redis.call('HGET', KEYS[1], 'seq')
if not cur then return {-1, 0} end
cur = tonumber(cur)
local expected = tonumber(ARGV[2])
local key = ARGV[6]
local k = tonumber(ARGV[9])
local first = 10 + k
local n = #ARGV - first + 1
if key ~= '' then
  -- The same command sent again (its answer was lost): nothing is written, the caller answers
  -- with the seqs of the first time.
  local done = redis.call('HGET', KEYS[6], key)
  if done then
    local a, b = string.match(done, '^(%d+):(%d+)$')
    return {4, tonumber(a), tonumber(b)}
  end
end
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
if ARGV[8] ~= '' then
  -- The writer stopped waiting at its deadline and told its client "not applied": a Redis that
  -- was hung (or a reply stuck in a queue) must not write it afterwards.
  local t = redis.call('TIME')
  if tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) > tonumber(ARGV[8]) then
    return {3, cur}
  end
end
if k > 0 then
  -- The writer's claims: every guarded station still bound to its resume-token hash.
  local held = redis.call('HMGET', KEYS[4], unpack(ARGV, 10, 9 + k))
  local lost = {2, cur}
  for i = 1, k do
    if not held[i] or cjson.decode(held[i])['token_hash'] ~= ARGV[5] then
      lost[#lost + 1] = ARGV[9 + i]
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
  if key ~= '' then
    -- Remember the command, in a window of the battle's last keyed appends.
    redis.call('HSET', KEYS[6], key, string.format('%d:%d', expected + 1, expected + n))
    redis.call('RPUSH', KEYS[7], key)
    while redis.call('LLEN', KEYS[7]) > tonumber(ARGV[7]) do
      redis.call('HDEL', KEYS[6], redis.call('LPOP', KEYS[7]))
    end
  end
end
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
return {1, expected + n}
