-- Seeding: authorization codes through the real flow. A signed-in session (its cookie is in
-- the spec) asks /oauth/authorize of a skip-consent client; each 302 carries a fresh code,
-- which is appended to OUT.<id>. The thread stops once it has COUNT codes.
-- args: SPEC_FILE OUT COUNT
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local out, wanted, minted

function init(args)
   local spec = read_spec(args[1])
   wrk.method, wrk.path = spec.method, spec.path
   for name, value in pairs(spec.headers) do wrk.headers[name] = value end
   out = assert(io.open(args[2] .. "." .. id, "w"))
   out:setvbuf("line")
   wanted, minted = tonumber(args[3]), 0
end

function response(status, headers, body)
   local code = (headers["Location"] or ""):match("[?&]code=([^&]+)")
   if status == 302 and code and minted < wanted then
      out:write(code, "\n")
      minted = minted + 1
      ok = ok + 1
   elseif minted < wanted then
      unexpected = unexpected + 1
   end
   if minted >= wanted then
      out:flush()
      wrk.thread:stop()
   end
end
