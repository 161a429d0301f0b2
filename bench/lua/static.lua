-- One fixed request, built once per thread (wrk's fastest mode): GETs and fixed POSTs.
-- args: SPEC_FILE
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function init(args)
   local spec = read_spec(args[1])
   wrk.method, wrk.path, wrk.body = spec.method, spec.path, spec.body
   for name, value in pairs(spec.headers) do wrk.headers[name] = value end
end
