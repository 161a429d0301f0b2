-- The whole browser-less code flow, as a browser without JavaScript runs it:
--   GET /oauth/authorize  -> 302 to /login?next=...
--   GET /login?next=...   -> the form (CSRF token, Flask session cookie)
--   POST /login           -> 303 back to the authorization request, session cookie set
--   GET /oauth/authorize  -> 302 to the redirect URI with a code
--   POST /oauth/token     -> tokens: one flow done
-- Every response carries what its next step needs (Location, cookies, form fields), so a step
-- never has to know which connection it came from. A flow that fails is counted and dropped.
-- Sign-ins take the thread's share of the bench's sign-in accounts in turn (see sign_in.lua).
-- args: CONFIG_FILE (lines "key=value": authorize_query, accounts (a file, one e-mail address
--                   a line), password, authorization, redirect_uri, code_verifier)
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local config, ready, started, accounts, turn = {}, {}, 0, {}, 0
local FORM = "application/x-www-form-urlencoded"

function init(args)
   for line in io.lines(args[1]) do
      local key, value = line:match("^([%w_]+)=(.*)$")
      if key then config[key] = value end
   end
   accounts = read_lines(config.accounts)
end

local function start_flow()
   started = started + 1
   local state = "flow" .. id .. "x" .. started
   return wrk.format("GET", "/oauth/authorize?" .. config.authorize_query .. "&state=" .. state, {})
end

function request()
   return table.remove(ready, 1) or start_flow()
end

local function sign_in_form(headers, body)
   local csrf = body:match('name="csrf_token"[^>]*value="([^"]+)"')
   local next_value = body:match('name="next"[^>]*value="([^"]*)"')
   local cookie = cookie_pair(headers["Set-Cookie"])
   if not (csrf and next_value and cookie) then return nil end
   next_value = next_value:gsub("&amp;", "&")
   turn = turn % #accounts + 1
   local form = "csrf_token=" .. urlencode(csrf) .. "&email=" .. urlencode(accounts[turn]) ..
      "&password=" .. urlencode(config.password) .. "&next=" .. urlencode(next_value)
   return wrk.format("POST", "/login", { ["Cookie"] = cookie, ["Content-Type"] = FORM }, form)
end

local function token_request(code)
   local form = "grant_type=authorization_code&code=" .. code .. "&redirect_uri=" ..
      urlencode(config.redirect_uri) .. "&code_verifier=" .. config.code_verifier
   return wrk.format("POST", "/oauth/token",
      { ["Authorization"] = config.authorization, ["Content-Type"] = FORM }, form)
end

local function next_step(status, headers, body)
   local location = headers["Location"]
   if status == 302 and location and location:sub(1, 7) == "/login?" then
      return wrk.format("GET", location, {})
   elseif status == 200 and body:find('name="csrf_token"', 1, true) then
      return sign_in_form(headers, body)
   elseif status == 303 and location then
      local cookie = cookie_pair(headers["Set-Cookie"])
      return cookie and wrk.format("GET", location, { ["Cookie"] = cookie })
   elseif status == 302 and location then
      local code = location:match("[?&]code=([^&]+)")
      return code and token_request(code)
   end
   return nil
end

function response(status, headers, body)
   if status == 200 and body:find('"access_token"', 1, true) then
      flows = flows + 1
      ok = ok + 1
      return
   end
   local following = next_step(status, headers, body)
   if following then
      ok = ok + 1
      table.insert(ready, following)
   else
      unexpected = unexpected + 1
   end
end
