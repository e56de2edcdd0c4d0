-- SQS SendMessage through the AWS JSON protocol: BODY_BYTES (default 256) bytes to the queue
-- QUEUE_URL, POSTed to the wrk URL (the endpoint, http://host:port/). The server must serve the
-- SQS API in development mode (no EMS_SQS_CREDENTIALS), which checks no signature; the
-- Authorization header is there, as boto3 would send it, because the server parses it.
local size = tonumber(os.getenv("BODY_BYTES") or "256")
local queue_url = os.getenv("QUEUE_URL")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-amz-json-1.0"
wrk.headers["X-Amz-Target"] = "AmazonSQS.SendMessage"
wrk.headers["X-Amz-Date"] = "20261201T000000Z"
wrk.headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=bench/20261201/us-east-1/sqs/" ..
   "aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=" ..
   string.rep("0", 64)
wrk.body = '{"QueueUrl":"' .. queue_url .. '","MessageBody":"' .. string.rep("x", size) .. '"}'
