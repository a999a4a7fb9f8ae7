-- Sends the bench's request mix with wrk: one body a request, in turn from a file of bodies (one
-- JSON document a line), each thread starting at another place in it. Counts answers by status
-- and prints, at the end, one WRK_RESULT line of JSON that bench/wrk.ts reads.
-- Arguments (after --): <bodies file> <path> <content type>

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  local f = assert(io.open(args[1], "rb"))
  reqs = {}
  local headers = { ["Content-Type"] = args[3] }
  for line in f:lines() do
    if #line > 0 then reqs[#reqs + 1] = wrk.format("POST", args[2], headers, line) end
  end
  f:close()
  n = #reqs
  i = (id * 7919) % n
  c200, c204, c4xx, c5xx, cother = 0, 0, 0, 0, 0
end

function request()
  i = i + 1
  if i > n then i = 1 end
  return reqs[i]
end

function response(status, headers, body)
  if status == 200 then c200 = c200 + 1
  elseif status == 204 then c204 = c204 + 1
  elseif status >= 500 then c5xx = c5xx + 1
  elseif status >= 400 then c4xx = c4xx + 1
  else cother = cother + 1 end
end

function done(summary, latency, requests)
  local t = { c200 = 0, c204 = 0, c4xx = 0, c5xx = 0, cother = 0 }
  for _, th in ipairs(threads) do
    for k, _ in pairs(t) do t[k] = t[k] + th:get(k) end
  end
  -- Latency quantiles in µs, every 0.1 %, for the histogram of the report.
  local q = {}
  for k = 1, 999 do q[k] = string.format("%d", latency:percentile(k / 10)) end
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,' ..
    '"c200":%d,"c204":%d,"c4xx":%d,"c5xx":%d,"other":%d,"max_us":%d,"quantiles_us":[%s]}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout,
    t.c200, t.c204, t.c4xx, t.c5xx, t.cother, latency.max, table.concat(q, ",")))
end
