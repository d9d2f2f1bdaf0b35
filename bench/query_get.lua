-- query_get.lua - wrk script for bench/query.sh: GET requests that rotate
-- through several organizations, each with its own API key.
--
-- QUERY_REQUESTS names a file of lines "API-KEY<TAB>PATH?QUERY" (one per
-- organization and scenario). Each wrk thread starts at a different line and
-- takes the next one for every request. done() prints one line:
--   RESULT requests=N duration_us=N p50_us=N p90_us=N p99_us=N max_us=N non2xx=N
--          socket_errors=N timeouts=N
-- Latencies are wrk's per-request times (request written -> response read), in
-- microseconds; non2xx is wrk's count of responses with a status >= 400.

local list = {}
local file = os.getenv("QUERY_REQUESTS")
if not file then
   error("QUERY_REQUESTS is not set")
end
for line in io.lines(file) do
   local key, path = line:match("^([^\t]+)\t(.+)$")
   if key then
      list[#list + 1] = { path = path, headers = { ["X-API-Key"] = key, ["Accept"] = "application/json" } }
   end
end
if #list == 0 then
   error("no request in " .. file)
end

local counter = 0

-- runs in the main state, once per thread: gives each thread its number
function setup(thread)
   counter = counter + 1
   thread:set("tid", counter)
end

local pos = 0

-- runs in each thread's own state: start each thread at another organization
function init(args)
   pos = (tid or 0) % #list
end

function request()
   pos = pos % #list + 1
   local r = list[pos]
   return wrk.format("GET", r.path, r.headers)
end

-- No response() hook on purpose: with one, wrk copies every body (about 60 KB a page) into
-- Lua, which costs the client CPU the server needs on a small machine. wrk itself counts
-- responses with a status >= 400 (summary.errors.status); the server sends no 1xx or 3xx.
function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "RESULT requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d non2xx=%d socket_errors=%d timeouts=%d\n",
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, e.status, e.connect + e.read + e.write, e.timeout))
end
