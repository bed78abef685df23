-- wrk script for the Vafa benchmarks (driven by bench/common.py, run_wrk).
--
--   wrk ... -s bench/load.lua URL -- webhook BODIES_FILE SIGNATURES_FILE DOMAIN TOPIC NONCE
--   wrk ... -s bench/load.lua URL -- get PATHS_FILE AUTHORIZATION
--
-- Requests cycle through pre-generated lines (one body, signature or path per line). Signing
-- covers only the body, so every webhook can carry a new X-Shopify-Event-Id
-- (NONCE-THREAD-COUNTER) and is a new event, not a duplicate.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

local function read_lines(path)
  local lines = {}
  for line in io.lines(path) do
    lines[#lines + 1] = line
  end
  return lines
end

local mode, items, signatures, domain, topic, nonce, authorization
local counter = 0

function init(args)
  mode = args[1]
  items = read_lines(args[2])
  if mode == "webhook" then
    signatures = read_lines(args[3])
    domain, topic, nonce = args[4], args[5], args[6]
  else
    authorization = args[3]
  end
end

function request()
  counter = counter + 1
  -- Threads start at different offsets so they do not send the same body at the same time.
  local i = (counter + tid * 997) % #items + 1
  if mode == "webhook" then
    return wrk.format("POST", nil, {
      ["Content-Type"] = "application/json",
      ["X-Shopify-Topic"] = topic,
      ["X-Shopify-Hmac-Sha256"] = signatures[i],
      ["X-Shopify-Shop-Domain"] = domain,
      ["X-Shopify-Event-Id"] = nonce .. "-" .. tid .. "-" .. counter,
    }, items[i])
  end
  return wrk.format("GET", items[i], { ["Authorization"] = authorization })
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "status_errors": %d, "socket_errors": %d, '
      .. '"p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
