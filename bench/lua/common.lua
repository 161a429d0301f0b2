-- Shared by every workload script (loaded with dofile): thread ids, request specs read from
-- files, form encoding, and the one JSON result line the harness parses (BENCH_RESULT ...).
--
-- A request spec file is: method line, path line, "Name: value" header lines, a blank line,
-- then the body. Secrets (client secrets, cookies) travel in these files, never on argv.

local threads = {}
local thread_count = 0

function setup(thread)
   thread:set("id", thread_count)
   thread_count = thread_count + 1
   table.insert(threads, thread)
end

-- Counted by scripts that look at responses; read back in done().
ok, unexpected, flows = 0, 0, 0

function read_file(path)
   local handle = assert(io.open(path, "rb"))
   local content = handle:read("*a")
   handle:close()
   return content
end

function read_spec(path)
   local content = read_file(path)
   local head, body = content:match("^(.-)\n\n(.*)$")
   if head == nil then head, body = content, "" end
   local lines = {}
   for line in head:gmatch("[^\n]+") do table.insert(lines, line) end
   local headers = {}
   for i = 3, #lines do
      local name, value = lines[i]:match("^([^:]+):%s*(.*)$")
      headers[name] = value
   end
   return { method = lines[1], path = lines[2], headers = headers, body = body }
end

-- This thread's share of a data file: the harness writes one file per thread, PATH.<id>.
function read_lines(path)
   local lines = {}
   for line in io.lines(path .. "." .. id) do
      if line ~= "" then table.insert(lines, line) end
   end
   return lines
end

function copy(headers)
   local copied = {}
   for name, value in pairs(headers) do copied[name] = value end
   return copied
end

function urlencode(value)
   return (value:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

function cookie_pair(set_cookie)
   if set_cookie == nil then return nil end
   return set_cookie:match("^([^;]+)")
end

function done(summary, latency, requests)
   local counted = { ok = 0, unexpected = 0, flows = 0 }
   for _, thread in ipairs(threads) do
      for name, _ in pairs(counted) do
         counted[name] = counted[name] + (thread:get(name) or 0)
      end
   end
   local errors = summary.errors
   io.write(string.format(
      'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,' ..
      '"read_errors":%d,"write_errors":%d,"status_errors":%d,"timeouts":%d,' ..
      '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,' ..
      '"ok":%d,"unexpected":%d,"flows":%d}\n',
      summary.requests, summary.duration, summary.bytes, errors.connect, errors.read,
      errors.write, errors.status, errors.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      latency.mean, counted.ok, counted.unexpected, counted.flows))
end
