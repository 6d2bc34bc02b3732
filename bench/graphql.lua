-- wrk script of bench/api.py: POSTs GraphQL requests with a bearer token.
--   MODE=list     the console's list page (BODY, or update-mode's own)
--   MODE=program  one program of IDS with its versions and history
--                 (PROGRAM_BODY, or update-mode's own)
--   MODE=update   updateMode on a random program of IDS, to a random mode
--   MODE=mixed    90% list and program reads, 10% updateMode
-- BODY (a file) replaces the list body, and PROGRAM_BODY (a file with one %s
-- where the program's id goes, in its "variables") the program body, e.g.
-- for a peer's schema (bench/peers/queries/); unset, update-mode's own are
-- sent. TOKEN is sent when set. Answers that are not 200, or whose body has
-- "errors", are counted: a run with any is void, and the first few are
-- printed (FAILED lines) so that a void run says which error it was.
local mode = os.getenv("MODE") or "list"
local token = os.getenv("TOKEN")
local ids = {}
local threads = {}

local LIST = '{"query":"{ miniPrograms(first: 20) { nodes { id name type channel updateMode updateModeEditable '
  .. 'versions(first: 5) { nodes { id version status updateMode } } } } }"}'
local PROGRAM = '{"query":"query($id: ID!) { miniProgram(id: $id) { id name type channel updateMode '
  .. 'updateModeEditable revision versions(first: 10) { nodes { id version status updateMode updateModeSource } } '
  .. 'updateModeHistory(first: 10) { nodes { revision previousMode mode changedBy changedAt } } } }",'
  .. '"variables":{"id":"%s"}}'
local UPDATE = '{"query":"mutation($id: ID!, $mode: UpdateMode!) { updateMode(input: { miniProgramId: $id, mode: $mode }) '
  .. '{ miniProgram { id updateMode revision } changed } }","variables":{"id":"%s","mode":"%s"}}'
local MODES = { "DEFAULT", "ASYNC", "SYNC" }

local body_file = os.getenv("BODY")
if body_file and body_file ~= "" then
  local file = assert(io.open(body_file, "rb"))
  LIST = file:read("*a")
  file:close()
end

local program_file = os.getenv("PROGRAM_BODY")
if program_file and program_file ~= "" then
  local file = assert(io.open(program_file, "rb"))
  PROGRAM = file:read("*a")
  file:close()
  -- string.format must find exactly one placeholder and no other directive.
  local _, placeholders = string.gsub(PROGRAM, "%%s", "")
  local _, percents = string.gsub(PROGRAM, "%%", "")
  assert(placeholders == 1 and percents == 1, program_file .. " must hold exactly one %s and no other %")
end

local ids_file = os.getenv("IDS")
if ids_file and ids_file ~= "" then
  for line in io.lines(ids_file) do
    if line ~= "" then
      table.insert(ids, line)
    end
  end
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  failures = 0
  math.randomseed(os.time() + #threads)
end

local function program()
  return string.format(PROGRAM, ids[math.random(#ids)])
end

local function update()
  return string.format(UPDATE, ids[math.random(#ids)], MODES[math.random(3)])
end

function request()
  local body
  if mode == "program" then
    body = program()
  elseif mode == "update" then
    body = update()
  elseif mode == "mixed" then
    local dice = math.random()
    if dice < 0.1 then
      body = update()
    elseif dice < 0.55 then
      body = LIST
    else
      body = program()
    end
  else
    body = LIST
  end
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    failures = failures + 1
    if failures <= 3 then
      io.write(string.format("FAILED %d %s\n", status, string.sub(body, 1, 400)))
    end
  end
end

function done(summary, latency, requests)
  local failed = 0
  for _, thread in ipairs(threads) do
    failed = failed + thread:get("failures")
  end
  local errors = summary.errors
  io.write(string.format("RESULT rps=%.1f p50_us=%d p99_us=%d max_us=%d failures=%d socket_errors=%d "
    .. "connect=%d read=%d write=%d status=%d timeout=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99), latency.max, failed,
    errors.connect + errors.read + errors.write + errors.status + errors.timeout,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout))
end
