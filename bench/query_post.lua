-- query_post.lua - wrk script for bench/query.sh: the concurrent ingestion
-- load. POST /api/v1/audit/events for one organization (INGEST_KEY, an API
-- key of that organization; INGEST_ORG, its id, used in the principal ids).
-- The timestamp is left out, so the server clock stamps each event; each
-- event is validated, hashed, signed, chained and committed before its 201.
-- done() prints one line:
--   INGEST requests=N created=N non201=N duration_us=N p50_us=N p99_us=N

local key = os.getenv("INGEST_KEY")
local org = os.getenv("INGEST_ORG") or "org-00"
if not key then
   error("INGEST_KEY is not set")
end
local orgnum = org:sub(5)

local actions = {
   { "fhir.patient.read", "Patient", "PHI" },
   { "fhir.observation.read", "Observation", "PHI" },
   { "fhir.observation.create", "Observation", "PHI" },
   { "fhir.encounter.read", "Encounter", "PHI" },
   { "auth.login.success", "Session", "INTERNAL" },
}

local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("tid", counter)
end

local n = 0
local headers = { ["X-API-Key"] = key, ["Content-Type"] = "application/json" }

function init(args)
   n = (tid or 0) * 1000003
end

function request()
   n = n + 1
   local a = actions[n % #actions + 1]
   local rank = (n * 7919) % 2000 + 1
   local body = string.format(
      '{"eventData":{"action":"%s","status":"success","principalId":"prac-%s-%04d",'
      .. '"targetResourceType":"%s","targetResourceId":"%s-%d","dataClassification":"%s",'
      .. '"correlationId":"ingest-%d-%d","sessionContext":{"sessionId":"sess-%s-%04d",'
      .. '"ipAddress":"10.%d.%d.%d","userAgent":"ehr-web/4.2.1"},'
      .. '"details":{"reason":"treatment","client":"ehr-web/4.2.1","durationMs":%d}}}',
      a[1], orgnum, rank, a[2], a[2]:sub(1, 3):lower(), n % 100000 + 1, a[3],
      tid or 0, n, orgnum, rank, tonumber(orgnum) or 0, math.floor(rank / 256), rank % 256,
      n % 900 + 3)
   return wrk.format("POST", "/api/v1/audit/events", headers, body)
end

-- No response() hook: wrk counts responses with a status >= 400 itself (summary.errors.status);
-- the server answers 201 or an error, never 1xx/2xx-other/3xx.
function done(summary, latency, requests)
   local e = summary.errors
   local bad = e.status + e.connect + e.read + e.write + e.timeout
   io.write(string.format("INGEST requests=%d created=%d non201=%d duration_us=%d p50_us=%d p99_us=%d\n",
                          summary.requests, summary.requests - e.status - e.read - e.write - e.timeout,
                          bad, summary.duration, latency:percentile(50), latency:percentile(99)))
end
