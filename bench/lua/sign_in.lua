-- Sign-in POSTs spread over the bench's sign-in accounts, taken in turn by each thread (its
-- own share of them), so an account has about one attempt in flight. The lockout counts an
-- attempt before it looks at the password (docs/architecture.md, "Lockout"): one account
-- signed in from every connection at once is refused as a guessing attack, which is the defence
-- working, not a sign-in rate.
-- args: SPEC_FILE ACCOUNTS_FILE (one e-mail address a line; the body has {email})
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local spec, accounts, turn

function init(args)
   spec = read_spec(args[1])
   accounts = read_lines(args[2])
   turn = 0
end

function request()
   turn = turn % #accounts + 1
   local email = urlencode(accounts[turn])
   -- A function, not a string, as the replacement: "%" in the encoded address is literal.
   local body = spec.body:gsub("{email}", function() return email end)
   return wrk.format(spec.method, spec.path, copy(spec.headers), body)
end
