-- Publish BODY_BYTES (default 256) persistent messages (delivery_mode 2) to the queue QUEUE
-- through RabbitMQ's HTTP management API; the wrk URL is
-- http://host:15672/api/exchanges/%2F/amq.default/publish. Counts answers that were not routed.
local size = tonumber(os.getenv("BODY_BYTES") or "256")
local queue = os.getenv("QUEUE")
local threads = {}
unrouted = 0

function setup(thread)
   table.insert(threads, thread)
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Basic Z3Vlc3Q6Z3Vlc3Q="  -- guest:guest
wrk.body = '{"properties":{"delivery_mode":2},"routing_key":"' .. queue ..
   '","payload":"' .. string.rep("x", size) .. '","payload_encoding":"string"}'

function response(status, headers, body)
   if status == 200 and not string.find(body, '"routed":true', 1, true) then
      unrouted = unrouted + 1
   end
end

function done(summary, latency, requests)
   local total = 0
   for _, thread in ipairs(threads) do total = total + thread:get("unrouted") end
   io.write(string.format("unrouted %d\n", total))
end
