-- PATCH /heroes/{id} {"age": n} with a random id in 1..N, N the first script argument
-- (default 10000), and a random age.
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

function init(args)
  max_id = tonumber(args[1]) or 10000
  math.randomseed(os.time() * 1000 + (thread_number or 0))
end

function request()
  local body = '{"age": ' .. math.random(0, 120) .. '}'
  return wrk.format("PATCH", "/heroes/" .. math.random(1, max_id),
                    {["Content-Type"] = "application/json"}, body)
end
