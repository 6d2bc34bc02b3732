-- wrk script shared by the runs of bench/launch.sh. With LAUNCH_PATH and
-- CLIENT_KEY set it asks GET /v1/launch/{id} for a different device on every
-- request; without, it sends wrk's plain GET (the trivial-endpoint ceiling).
-- DEVICES (default 100,000) bounds the distinct device ids of one thread.
-- It counts answers that are not 200: a run with any is void.
local path = os.getenv("LAUNCH_PATH")
local devices = tonumber(os.getenv("DEVICES") or "100000")
local key = os.getenv("CLIENT_KEY")
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  failures = 0
end

if path and path ~= "" then
  function request()
    counter = counter + 1
    local device = "device-" .. id .. "-" .. (counter % devices)
    return wrk.format("GET", path .. "?deviceId=" .. device .. "&cachedVersion=1.0.0&cacheAgeSeconds=5400",
      { ["x-client-key"] = key })
  end
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
  io.write(string.format("RESULT rps=%.0f p50_us=%d p99_us=%d failures=%d socket_errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99), failed,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout))
end
