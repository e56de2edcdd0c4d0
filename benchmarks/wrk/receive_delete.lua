-- Receive then delete: GET <queue>/message?max_messages=BATCH, then delete every handle it
-- returned (one DELETE each when BATCH is 1, else one POST <queue>/messages/delete).
-- Prints the number of messages deleted, so messages/s can be computed exactly.
local batch = tonumber(os.getenv("BATCH") or "1")
local threads = {}
handles = {}
deleted = 0

function setup(thread)
   table.insert(threads, thread)
end

function request()
   local queue = wrk.path
   if #handles > 0 then
      if batch == 1 then
         return wrk.format("DELETE", queue .. "/message/" .. table.remove(handles))
      end
      local take = {}
      for i = 1, math.min(batch, #handles) do take[i] = '"' .. table.remove(handles) .. '"' end
      return wrk.format("POST", queue .. "/messages/delete", {["Content-Type"] = "application/json"},
         '{"receipt_handles":[' .. table.concat(take, ",") .. ']}')
   end
   return wrk.format("GET", queue .. "/message?visibility_timeout=600&max_messages=" .. batch)
end

function response(status, headers, body)
   if status == 204 then
      deleted = deleted + 1
   elseif status == 200 then
      for h in string.gmatch(body, '"receipt_handle":"([^"]+)","status":204') do
         deleted = deleted + 1
      end
      if string.find(body, '"messages"', 1, true) then
         for h in string.gmatch(body, '"receipt_handle":"([^"]+)"') do table.insert(handles, h) end
      end
   end
end

function done(summary, latency, requests)
   local total = 0
   for _, thread in ipairs(threads) do total = total + thread:get("deleted") end
   io.write(string.format("deleted %d\n", total))
end
