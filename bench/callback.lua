-- wrk script: POSTs GroupMe callbacks, each with a GroupMe message id no other request of the run carries.
-- wrk -s bench/callback.lua <url> -- <group_id> <id_prefix> [copies]
--   copies: how many times each id is sent, back to back by one wrk thread (so usually on different connections).
-- done() prints one JSON line: latency percentiles (microseconds), status counts and how many ids were generated.

local threads = {}
local counter = 1

function setup(thread)
  thread:set("thread_number", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  group_id = args[1] or "1001"
  id_prefix = args[2] or "9"
  copies = tonumber(args[3] or "1")
  sequence = 0
  generated = 0
  accepted = 0
  duplicate = 0
  other = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["User-Agent"] = "GroupMeBotNotifier/1.0"
end

function request()
  local message_number = math.floor(sequence / copies)
  if sequence % copies == 0 then
    generated = generated + 1
  end
  sequence = sequence + 1
  local message_id = string.format("%s%02d%09d", id_prefix, thread_number, message_number)
  local body = string.format(
    '{"attachments":[],"avatar_url":null,"created_at":%d,"group_id":"%s","id":"%s","name":"Ana",' ..
    '"sender_id":"%d","sender_type":"user","source_guid":"guid-%s","system":false,' ..
    '"text":"see you all at practice tonight","user_id":"%d"}',
    os.time(), group_id, message_id, 555 + message_number % 50, message_id, 555 + message_number % 50)
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status == 202 then
    accepted = accepted + 1
  elseif status == 200 then
    duplicate = duplicate + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local totals = { generated = 0, accepted = 0, duplicate = 0, other = 0 }
  for _, thread in ipairs(threads) do
    for name, _ in pairs(totals) do
      totals[name] = totals[name] + (thread:get(name) or 0)
    end
  end
  local errors = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p75":%d,"p90":%d,"p95":%d,"p99":%d,"p99.9":%d,"mean":%.1f,"max":%d,"stdev":%.1f},' ..
    '"statuses":{"202":%d,"200":%d,"other":%d},"generated_ids":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    latency:percentile(50), latency:percentile(75), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency:percentile(99.9), latency.mean, latency.max, latency.stdev,
    totals.accepted, totals.duplicate, totals.other, totals.generated))
end
