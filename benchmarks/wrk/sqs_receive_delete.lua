-- SQS ReceiveMessage then DeleteMessage through the AWS JSON protocol, one message at a time,
-- against the queue QUEUE_URL; the wrk URL is the endpoint (http://host:port/). Development mode
-- (no EMS_SQS_CREDENTIALS): see sqs_send.lua. Prints the messages received (got) and the empty
-- answers (deleted: a DeleteMessage answers {} as an empty ReceiveMessage does, so fill the queue
-- first; then every {} is a delete).
local queue_url = os.getenv("QUEUE_URL")
local threads = {}
handles = {}
deleted = 0
got = 0

function setup(thread)
   table.insert(threads, thread)
end

local function call(action, body)
   return wrk.format("POST", "/", {
      ["Content-Type"] = "application/x-amz-json-1.0",
      ["X-Amz-Target"] = "AmazonSQS." .. action,
      ["X-Amz-Date"] = "20261201T000000Z",
      ["Authorization"] = "AWS4-HMAC-SHA256 Credential=bench/20261201/us-east-1/sqs/" ..
         "aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=" ..
         string.rep("0", 64),
   }, body)
end

function request()
   if #handles > 0 then
      return call("DeleteMessage",
         '{"QueueUrl":"' .. queue_url .. '","ReceiptHandle":"' .. table.remove(handles) .. '"}')
   end
   return call("ReceiveMessage",
      '{"QueueUrl":"' .. queue_url .. '","MaxNumberOfMessages":1,"VisibilityTimeout":600}')
end

function response(status, headers, body)
   if status == 200 then
      if string.find(body, '"Messages"', 1, true) then
         for h in string.gmatch(body, '"ReceiptHandle":"([^"]+)"') do
            table.insert(handles, h)
            got = got + 1
         end
      elseif body == "{}\n" then
         deleted = deleted + 1
      end
   end
end

function done(summary, latency, requests)
   local d, g = 0, 0
   for _, thread in ipairs(threads) do
      d = d + thread:get("deleted")
      g = g + thread:get("got")
   end
   io.write(string.format("deleted %d\ngot %d\n", d, g))
end
