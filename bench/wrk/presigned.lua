-- Sends pre-signed webhooks (Standard Webhooks headers made by bench/wrk.py), each request once:
-- a fresh webhook-id per request, so none is a duplicate. Arguments: FILE THREADS CONNECTIONS.
-- With BENCH_RATE in the environment, every connection waits between requests so that all of them send
-- about BENCH_RATE per second (wrk is closed-loop; the wait turns it into a steady load for latency at half
-- load). Without it there is no delay() at all, which wrk would otherwise call for every request.
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end

function init(args)
  local nthreads = tonumber(args[2])
  local connections = tonumber(args[3] or "1")
  pending = {}
  local i = 0
  for line in io.lines(args[1]) do
    if i % nthreads == tid then
      local id, ts, sig, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      pending[#pending + 1] = wrk.format("POST", nil, {["Content-Type"] = "application/json",
        ["webhook-id"] = id, ["webhook-timestamp"] = ts, ["webhook-signature"] = sig}, body)
    end
    i = i + 1
  end
  position = 0
  local rate = tonumber(os.getenv("BENCH_RATE") or "0")
  wait_ms = rate > 0 and (1000.0 * connections / rate) or 0
end

function request()
  position = position + 1
  if position > #pending then position = 1 end  -- ran out: repeats (answered 200, not counted as accepted)
  return pending[position]
end

if os.getenv("BENCH_RATE") then
  function delay()
    return wait_ms
  end
end

function done(summary, latency, requests)
  io.write(string.format("BENCH requests=%d seconds=%.3f p50_us=%d p90_us=%d p99_us=%d max_us=%d non2xx=%d errors=%d\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
