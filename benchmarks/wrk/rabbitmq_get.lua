-- Get (and acknowledge: ackmode ack_requeue_false) up to BATCH (default 1) messages per request
-- through RabbitMQ's HTTP management API; the wrk URL is
-- http://host:15672/api/queues/%2F/<queue>/get. Prints how many messages were got, and how many
-- answers were empty (the queue had run dry), so messages/s can be computed exactly.
local batch = tonumber(os.getenv("BATCH") or "1")
local threads = {}
got = 0
empty = 0

function setup(thread)
   table.insert(threads, thread)
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Basic Z3Vlc3Q6Z3Vlc3Q="  -- guest:guest
wrk.body = '{"count":' .. batch .. ',"ackmode":"ack_requeue_false","encoding":"auto"}'

function response(status, headers, body)
   if status == 200 then
      local n = 0
      for _ in string.gmatch(body, '"payload_bytes"') do n = n + 1 end
      got = got + n
      if n == 0 then empty = empty + 1 end
   end
end

function done(summary, latency, requests)
   local g, e = 0, 0
   for _, thread in ipairs(threads) do
      g = g + thread:get("got")
      e = e + thread:get("empty")
   end
   io.write(string.format("got %d\nempty %d\n", g, e))
end
