-- POST a body of BODY_BYTES (default 256) bytes with an Idempotency-Key: a new key per request
-- (KEYS=unique, the default), or the same key every time (KEYS=repeat: every send a duplicate).
local size = tonumber(os.getenv("BODY_BYTES") or "256")
local repeat_keys = os.getenv("KEYS") == "repeat"
local body = string.rep("x", size)
local threads = 0

function setup(thread)
   threads = threads + 1
   thread:set("prefix", string.format("%d-%d", os.time(), threads))
end

local counter = 0
function request()
   counter = counter + 1
   local key = repeat_keys and "the-same-key" or (prefix .. "-" .. counter)
   return wrk.format("POST", nil, {
      ["Content-Type"] = "application/octet-stream",
      ["Idempotency-Key"] = key,
   }, body)
end
