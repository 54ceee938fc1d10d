-- wrk script of the producer benchmark (hack/bench/producer/wrk.go).
-- Arguments after "--": path, first record id, ids per thread, record size,
-- caller keys (0: none), output file.
-- Every request posts {"data":"<12-digit id><x padding>"} (plus a caller
-- partition key when asked), the same body as the Go load generator, with an
-- id unique per server; every 2xx answer body is written, one per line, to
-- <prefix> by done(), so that the benchmark can match acknowledged records
-- with what arrived at the Kinesis double (wrk does not say which request an
-- answer belongs to; the answer's partitionKey and sequenceNumber do).
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

function init(args)
  path = args[1]
  next_id = tonumber(args[2]) + tid * tonumber(args[3])
  last_id = next_id + tonumber(args[3])
  pad = string.rep("x", math.max(tonumber(args[4]) - 12, 0))
  keys = tonumber(args[5])
  out = args[6]
  acked = {}
  headers = { ["Content-Type"] = "application/json" }
  math.randomseed(os.time() + tid)
end

function request()
  if next_id >= last_id then
    error("wrk.lua: ran out of record ids")
  end
  local body
  if keys > 0 then
    body = string.format('{"data":"%012d%s","partitionKey":"key-%d"}', next_id, pad, math.random(keys) - 1)
  else
    body = string.format('{"data":"%012d%s"}', next_id, pad)
  end
  next_id = next_id + 1
  return wrk.format("POST", path, headers, body)
end

function response(status, hdrs, body)
  if status < 300 then
    acked[#acked + 1] = body
  end
end

function done(summary, latency, requests)
  local f = assert(io.open(threads[1]:get("out"), "w"))
  for _, t in ipairs(threads) do
    for _, b in ipairs(t:get("acked")) do
      f:write(b, "\n")
    end
  end
  f:close()
  local e = summary.errors
  io.write(string.format("WRK %d %d %d %d %d %d %d\n", summary.duration, summary.requests,
    e.connect, e.read, e.write, e.status, e.timeout))
  local q = {}
  for i = 0, 999 do
    q[#q + 1] = tostring(latency:percentile((i + 0.5) / 10))
  end
  io.write("WRKLAT ", table.concat(q, " "), "\n")
end
