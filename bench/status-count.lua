-- wrk script: counts responses by HTTP status and prints "status <code> <count>" lines at
-- the end, so a clean 503 refusal can be told apart from a broken request. Used by
-- bench/soak.sh:  wrk -s bench/status-count.lua ...
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      total[status] = (total[status] or 0) + count
    end
  end
  for status, count in pairs(total) do
    io.write(string.format("status %d %d\n", status, count))
  end
end
