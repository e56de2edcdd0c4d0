-- POST batches of BATCH (default 100) messages of BODY_BYTES (default 256) bytes each to
-- <queue>/messages; the wrk URL is the queue's URL.
local batch = tonumber(os.getenv("BATCH") or "100")
local size = tonumber(os.getenv("BODY_BYTES") or "256")
local entry = '{"body":"' .. string.rep("x", size) .. '"}'
local entries = {}
for i = 1, batch do entries[i] = entry end
wrk.method = "POST"
wrk.path = wrk.path .. "/messages"
wrk.body = '{"messages":[' .. table.concat(entries, ",") .. ']}'
wrk.headers["Content-Type"] = "application/json"
