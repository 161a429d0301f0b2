-- Refresh-token rotation, chained: every response's new refresh token goes back into the pool
-- and is used for a later request, so each token is presented exactly once. The pool starts
-- with several tokens per connection (tokens in flight are out of the pool).
-- args: SPEC_FILE TOKENS_FILE
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local spec, pool

function init(args)
   spec = read_spec(args[1])
   pool = read_lines(args[2])
end

function request()
   local token = table.remove(pool, 1) or "starved"
   return wrk.format(spec.method, spec.path, copy(spec.headers), (spec.body:gsub("{token}", token)))
end

function response(status, headers, body)
   local token = body:match('"refresh_token":%s*"([^"]+)"')
   if status == 200 and token then
      ok = ok + 1
      table.insert(pool, token)
   else
      unexpected = unexpected + 1
   end
end
