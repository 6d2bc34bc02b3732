-- wrk script: POSTs one GraphQL body to every request.
--   BODY=queries/apollo-list.json TOKEN=... wrk -c 16 -t 1 -d 5s -s post.lua http://127.0.0.1:PORT/graphql
-- BODY is a file with the JSON body; TOKEN, when set, is sent as a bearer
-- token. Counts answers that are not 200 (a run with any is void).
local file = assert(io.open(assert(os.getenv("BODY"), "BODY is not set"), "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
local token = os.getenv("TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  failures = 0
end

function response(status, headers, body)
  if status ~= 200 then
    failures = failures + 1
  end
end

function done(summary, latency, requests)
  local failed = 0
  for _, thread in ipairs(threads) do
    failed = failed + thread:get("failures")
  end
  io.write(string.format("RESULT rps=%.0f p50_us=%d p99_us=%d non200=%d socket_errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99), failed,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout))
end
