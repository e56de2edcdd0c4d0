-- POST a body of BODY_BYTES (default 256) bytes to the URL given to wrk.
local size = tonumber(os.getenv("BODY_BYTES") or "256")
wrk.method = "POST"
wrk.body = string.rep("x", size)
wrk.headers["Content-Type"] = "application/octet-stream"
