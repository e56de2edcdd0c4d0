-- POST a body of BODY_BYTES (default 256) bytes to a FIFO queue: EMS-Group-Id cycles through
-- GROUPS groups (default 1), and each send has a new EMS-Deduplication-Id.
local size = tonumber(os.getenv("BODY_BYTES") or "256")
local groups = tonumber(os.getenv("GROUPS") or "1")
local body = string.rep("x", size)
local threads = 0

function setup(thread)
   threads = threads + 1
   thread:set("prefix", string.format("%d-%d", os.time(), threads))
   thread:set("offset", threads * 7919)
end

local counter = 0
function request()
   counter = counter + 1
   return wrk.format("POST", nil, {
      ["Content-Type"] = "application/octet-stream",
      ["EMS-Group-Id"] = "g" .. ((counter + offset) % groups),
      ["EMS-Deduplication-Id"] = prefix .. "-" .. counter,
   }, body)
end
