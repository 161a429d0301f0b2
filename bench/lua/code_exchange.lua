-- The authorization-code exchange: each pre-minted code is redeemed exactly once.
-- The spec's body holds {code}; the thread stops when its codes run out.
-- args: SPEC_FILE CODES_FILE
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local spec, codes, position

function init(args)
   spec = read_spec(args[1])
   codes = read_lines(args[2])
   position = 0
end

function request()
   position = position + 1
   local code = codes[position] or "exhausted"
   return wrk.format(spec.method, spec.path, copy(spec.headers), (spec.body:gsub("{code}", code)))
end

function response(status, headers, body)
   if status == 200 then ok = ok + 1 else unexpected = unexpected + 1 end
   if position >= #codes then wrk.thread:stop() end
end
