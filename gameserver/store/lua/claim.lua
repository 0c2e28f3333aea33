-- KEYS: meta, claims, tokens.
-- ARGV: field, claim JSON, token_hash, new token ('1': the server just issued it), the server's
--       station cap per token (0: none).
-- Returns false (no battle), {'ok', claim JSON}, {'held', holder JSON} or {'refused', reason, cap}.
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local token = ARGV[3]
local status = redis.call('HGET', KEYS[3], token)
if status and status ~= 'ok' then return {'refused', 'banned', 0} end
local held = redis.call('HGET', KEYS[2], ARGV[1])
if held then
  if cjson.decode(held)['token_hash'] ~= token then return {'held', held} end
else
  local locked, cap = false, tonumber(ARGV[5])
  local rules = redis.call('HGET', KEYS[1], 'table')
  if rules then
    rules = cjson.decode(rules)
    locked = rules['locked'] == true
    if (tonumber(rules['max_stations']) or 0) > 0 then cap = tonumber(rules['max_stations']) end
  end
  local mine = 0
  for _, c in ipairs(redis.call('HVALS', KEYS[2])) do
    if cjson.decode(c)['token_hash'] == token then mine = mine + 1 end
  end
  if not status and mine == 0 then
    -- A token this battle never issued: only one the server has just made may sit down.
    if ARGV[4] ~= '1' then return {'refused', 'unknown_token', 0} end
    if locked then return {'refused', 'table_locked', 0} end
  end
  if cap > 0 and mine >= cap then return {'refused', 'station_cap', cap} end
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
if not status then redis.call('HSET', KEYS[3], token, 'ok') end
return {'ok', ARGV[2]}
