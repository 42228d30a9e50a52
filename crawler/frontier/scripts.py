"""The frontier's Redis scripts: each step that reads and writes several keys runs as one
Lua script, so processes on other hosts never see it half done.

Keys of a run (``B`` = ``<FRONTIER_PREFIX>:<spider>:<digest of the arguments>``):
``B`` hash (gen, state, spider, args), and per generation G: ``B:G:queue`` (sorted set,
score -priority), ``B:G:seen`` (fingerprints), ``B:G:members`` (process -> busy|idle),
``B:G:alive:<process>`` (heartbeat, expires), ``B:G:leases:<process>`` (sorted set of the
requests the process holds), ``B:G:seeder`` (the process pushing the start requests, then
``done``), ``B:G:limits`` (hash: new articles granted in all, ``total``, and per source,
``source:<name>``) and ``B:G:granted`` (their URLs), kept only when the run has limits
(GRANT), ``B:G:deaths`` (fingerprint -> how many members died holding that request: a
*suspect*) and ``B:G:given-up`` (sorted set: requests HOLDER_DEATHS members died holding, for
the next pop to report as failed, never handed out again). A queue entry is the request's 40-hex fingerprint then its
serialized form, so a queue can be carried into the next run through its duplicate filter.
"""

# Redis's clock in ms: every host's processes compare times on one clock.
_NOW = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
"""

# A page that kills whichever process takes it (a crash in a parser, memory run out) would take
# down every member of a run in turn, and the next run's. What a dead member held is counted
# against each request (B:G:deaths); a member holds at most one such suspect at a time (POP),
# so that the next death blames it alone; a request whose holders died this many times is given
# up: the next pop reports it as a failed request (scheduler.py) instead of handing it out.
HOLDER_DEATHS = 3

# Shared by the scripts below: put a dead member's leases back (or give them up) and forget it.
_RECOVER = _NOW + f"""
local function recover(g)
  local members = redis.call('HKEYS', g .. ':members')
  for _, m in ipairs(members) do
    if redis.call('EXISTS', g .. ':alive:' .. m) == 0 then
      local leases = redis.call('ZRANGE', g .. ':leases:' .. m, 0, -1, 'WITHSCORES')
      for i = 1, #leases, 2 do
        local deaths = redis.call('HINCRBY', g .. ':deaths', string.sub(leases[i], 1, 40), 1)
        redis.call('ZADD', g .. (deaths >= {HOLDER_DEATHS} and ':given-up' or ':queue'), leases[i + 1], leases[i])
      end
      redis.call('DEL', g .. ':leases:' .. m)
      redis.call('HDEL', g .. ':members', m)
    end
  end
end"""
_RECOVER += """
local function live(g)
  for _, m in ipairs(redis.call('HKEYS', g .. ':members')) do
    if redis.call('EXISTS', g .. ':alive:' .. m) == 1 then return true end
  end
  return false
end
local function drop(g)
  local keys = {g .. ':queue', g .. ':seen', g .. ':members', g .. ':seeder', g .. ':limits', g .. ':granted',
                g .. ':deaths', g .. ':given-up'}
  for _, m in ipairs(redis.call('HKEYS', g .. ':members')) do
    table.insert(keys, g .. ':leases:' .. m)
    table.insert(keys, g .. ':alive:' .. m)
  end
  redis.call('DEL', unpack(keys))
end
"""

# KEYS[1] = B; ARGV = process, alive ms, may start a run (1/0), spider, args JSON.
# Returns the generation joined, or 0 (a worker and no live run). A run with no live member
# is over: a new generation starts, carrying over what its queue and leases still held.
JOIN = _RECOVER + """
local b, proc, ttl = KEYS[1], ARGV[1], ARGV[2]
local gen = tonumber(redis.call('HGET', b, 'gen') or '0')
local running = gen > 0 and redis.call('HGET', b, 'state') == 'running'
if not (running and live(b .. ':' .. gen)) then
  if ARGV[3] ~= '1' then return 0 end
  local old = b .. ':' .. gen
  gen = gen + 1
  local g = b .. ':' .. gen
  if running then
    recover(old)
    local entries = redis.call('ZRANGE', old .. ':queue', 0, -1, 'WITHSCORES')
    for i = 1, #entries, 2 do
      if redis.call('SADD', g .. ':seen', string.sub(entries[i], 1, 40)) == 1 then
        redis.call('ZADD', g .. ':queue', entries[i + 1], entries[i])
      end
    end
    -- the deaths its members died holding count on; what it gave up and did not report yet is reported
    local deaths = redis.call('HGETALL', old .. ':deaths')
    for i = 1, #deaths, 2 do redis.call('HSET', g .. ':deaths', deaths[i], deaths[i + 1]) end
    for _, entry in ipairs(redis.call('ZRANGE', old .. ':given-up', 0, -1)) do  -- seeding again does not queue them
      redis.call('SADD', g .. ':seen', string.sub(entry, 1, 40))
    end
    if redis.call('EXISTS', old .. ':given-up') == 1 then redis.call('RENAME', old .. ':given-up', g .. ':given-up') end
    drop(old)
  end
  redis.call('HSET', b, 'gen', gen, 'state', 'running', 'spider', ARGV[4], 'args', ARGV[5], 'started', now_ms())
end
local g = b .. ':' .. gen
redis.call('HSET', g .. ':members', proc, 'busy')
redis.call('SET', g .. ':alive:' .. proc, '1', 'PX', ttl)
return gen
"""

# Shared by PUSH and POP: queue requests, args[from...] in fours (fingerprint, score, entry,
# filter 1/0), each unless filtered and its fingerprint was seen in this run. One flag a
# request: 1 queued, 0 a repeat.
_PUSH = """
local function push(queue, seen, args, from)
  local queued = {}
  for i = from, #args, 4 do
    if args[i + 3] == '1' and redis.call('SADD', seen, args[i]) == 0 then
      queued[#queued + 1] = 0
    else
      redis.call('ZADD', queue, args[i + 1], args[i + 2])
      queued[#queued + 1] = 1
    end
  end
  return queued
end
"""

# KEYS = queue, seen; ARGV = one or more requests to queue, in fours. Returns their flags.
PUSH = _PUSH + """
return push(KEYS[1], KEYS[2], ARGV, 1)
"""

# KEYS = queue, my leases, members, my heartbeat, seen, deaths, given-up; ARGV = process, alive
# ms, count, n, the n entries I am done with, then requests to queue in fours (as PUSH). Queues
# those (what the done entries' pages found goes in before their leases end), releases the done
# entries, then leases me up to ``count`` first entries (a pop is a heartbeat too), of which one
# suspect at most in all I hold; returns {entries left in the queue, the entries taken, the
# pushes' flags, entries given up for me to report}: one round trip where a push, a release, a
# pop and a queue length were four.
POP = _PUSH + """
local n, count = tonumber(ARGV[4]), tonumber(ARGV[3])
local queued = push(KEYS[1], KEYS[5], ARGV, 5 + n)
for i = 5, 4 + n do redis.call('ZREM', KEYS[2], ARGV[i]) end
local e
if redis.call('EXISTS', KEYS[6]) == 0 then
  e = redis.call('ZPOPMIN', KEYS[1], count)
else  -- a member died holding some requests of this run: the suspects go out one to a member
  local function suspect(entry) return redis.call('HEXISTS', KEYS[6], string.sub(entry, 1, 40)) == 1 end
  local holds = false
  for _, entry in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
    if suspect(entry) then holds = true break end
  end
  e = {}
  local passed = {}
  for _ = 1, count + 64 do  -- bounded: a queue of suspects is looked through 64 at a time
    if #e >= 2 * count then break end
    local x = redis.call('ZPOPMIN', KEYS[1], 1)
    if #x == 0 then break end
    if suspect(x[1]) and holds then
      table.insert(passed, x)
    else
      holds = holds or suspect(x[1])
      table.insert(e, x[1])
      table.insert(e, x[2])
    end
  end
  for _, x in ipairs(passed) do redis.call('ZADD', KEYS[1], x[2], x[1]) end
end
local taken = {}
for i = 1, #e, 2 do
  redis.call('ZADD', KEYS[2], e[i + 1], e[i])
  table.insert(taken, e[i])
end
if #taken > 0 then
  redis.call('HSET', KEYS[3], ARGV[1], 'busy')
  redis.call('SET', KEYS[4], '1', 'PX', ARGV[2])
end
local given_up = {}
if redis.call('EXISTS', KEYS[7]) == 1 then
  local g = redis.call('ZPOPMIN', KEYS[7], 16)
  for i = 1, #g, 2 do table.insert(given_up, g[i]) end
end
return {redis.call('ZCARD', KEYS[1]), taken, queued, given_up}
"""

# KEYS[1] = B:G:seeder; ARGV = process, its heartbeat keys' prefix (B:G:alive:), and 'claim',
# 'done' (it has pushed every start request) or 'drop' (it stops seeding before that). 'mine':
# this process seeds the run (no one did, or its seeder stopped or died before it was done);
# 'other': a live process seeds it; 'done': it is seeded.
SEED = """
local holder = redis.call('GET', KEYS[1])
if holder == 'done' then return 'done' end
if ARGV[3] == 'done' then
  redis.call('SET', KEYS[1], 'done')
  return 'done'
end
if ARGV[3] == 'drop' then
  if holder == ARGV[1] then redis.call('DEL', KEYS[1]) end
  return 'other'
end
if holder and holder ~= ARGV[1] and redis.call('EXISTS', ARGV[2] .. holder) == 1 then return 'other' end
redis.call('SET', KEYS[1], ARGV[1])
return 'mine'
"""

# KEYS[1] = B; ARGV = generation, process (now idle, its leases released), alive ms, join
# window ms. 'work': requests queued (some perhaps recovered from a dead member); 'wait':
# another member is busy or holds leases, or the run started less than the join window ago
# (processes started together with it may not have joined yet: one that joined a run already
# complete would start the next and fetch everything again); 'done': the run is complete (its
# keys are cleared); 'lost': the run's record is gone (a Redis restarted without its data),
# so its queue is too.
IDLE = _RECOVER + """
local b, gen, proc = KEYS[1], ARGV[1], ARGV[2]
local g = b .. ':' .. gen
local current = redis.call('HGET', b, 'gen')
if not current then return 'lost' end
if current ~= gen or redis.call('HGET', b, 'state') ~= 'running' then return 'done' end
redis.call('SET', g .. ':alive:' .. proc, '1', 'PX', ARGV[3])
redis.call('HSET', g .. ':members', proc, 'idle')
-- an idle process holds no request: a lease still in its name is one whose pop it never heard
-- back from (Redis went away between the two), so it goes back to the queue
if redis.call('EXISTS', g .. ':leases:' .. proc) == 1 then
  redis.call('ZUNIONSTORE', g .. ':queue', 2, g .. ':queue', g .. ':leases:' .. proc, 'AGGREGATE', 'MIN')
  redis.call('DEL', g .. ':leases:' .. proc)
end
recover(g)
if redis.call('ZCARD', g .. ':queue') > 0 or redis.call('EXISTS', g .. ':given-up') == 1 then return 'work' end
local members = redis.call('HGETALL', g .. ':members')
for i = 1, #members, 2 do
  if members[i + 1] ~= 'idle' or redis.call('EXISTS', g .. ':leases:' .. members[i]) == 1 then return 'wait' end
end
if now_ms() - tonumber(redis.call('HGET', b, 'started') or '0') < tonumber(ARGV[4]) then return 'wait' end
drop(g)
redis.call('HSET', b, 'state', 'done')
return 'done'
"""

# KEYS[1] = B; ARGV = generation, process. A process leaves: its leases go back to the queue;
# the last member out of a run with nothing left in it marks it done.
LEAVE = _RECOVER + """
local b, gen, proc = KEYS[1], ARGV[1], ARGV[2]
local g = b .. ':' .. gen
if redis.call('HGET', b, 'gen') ~= gen then return 'gone' end
if redis.call('EXISTS', g .. ':leases:' .. proc) == 1 then
  redis.call('ZUNIONSTORE', g .. ':queue', 2, g .. ':queue', g .. ':leases:' .. proc, 'AGGREGATE', 'MIN')
  redis.call('DEL', g .. ':leases:' .. proc)
end
redis.call('HDEL', g .. ':members', proc)
redis.call('DEL', g .. ':alive:' .. proc)
recover(g)
if redis.call('HLEN', g .. ':members') == 0 and redis.call('ZCARD', g .. ':queue') == 0
    and redis.call('EXISTS', g .. ':given-up') == 0 then  -- else the next run reports them
  drop(g)
  redis.call('HSET', b, 'state', 'done')
  return 'done'
end
return 'left'
"""

# Per-site politeness across processes (slots.py). KEYS = the host's slot holders (sorted
# set of "<process>|<n>", score = when the hold expires), when its next request may start,
# its delay floor; ARGV = token, concurrent requests allowed, this process's delay (ms), hold
# (ms), floor TTL (ms), prefix of the processes' heartbeat keys; then any number of slots
# this process gives back first: their hosts' slot holders in KEYS[4...], their tokens in
# ARGV[7...]. 0: go (the slot is held); else ms to wait. A holder whose process's heartbeat
# stopped frees its slot at once. The floor is the largest delay any process wants for the
# host (its robots.txt Crawl-delay, a back-off after 429/503), kept while wanted and for a
# floor TTL after, so one process's back-off slows them all.
ACQUIRE = _NOW + """
for i = 4, #KEYS do redis.call('ZREM', KEYS[i], ARGV[i + 3]) end
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local delay = tonumber(ARGV[3])
local floor = tonumber(redis.call('GET', KEYS[3]) or '0')
if delay > floor then redis.call('SET', KEYS[3], delay, 'PX', ARGV[5]) else delay = floor end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  -- every slot taken: only now ask whether each holder's process is alive (a lookup a holder)
  for _, holder in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    if redis.call('EXISTS', ARGV[6] .. string.match(holder, '^(.*)|')) == 0 then redis.call('ZREM', KEYS[1], holder) end
  end
  if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 20 end
end
local ready = tonumber(redis.call('GET', KEYS[2]) or '0')
if now < ready then return ready - now end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[1])
if delay > 0 then redis.call('SET', KEYS[2], now + delay, 'PX', delay + 1000) end
return 0
"""

# KEYS = the host's next start, its delay floor; ARGV = delay (ms), floor TTL (ms). A process
# that got a 429 or 503 backs the host off for everyone at once: no request starts before
# now + delay, and the floor keeps the delay for the next ones.
BACK_OFF = _NOW + """
local now = now_ms()
local delay = tonumber(ARGV[1])
if delay > tonumber(redis.call('GET', KEYS[2]) or '0') then redis.call('SET', KEYS[2], delay, 'PX', ARGV[2]) end
if now + delay > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], now + delay, 'PX', delay + 1000)
end
return 0
"""

# KEYS[1] = B:G:limits, KEYS[2] = B:G:granted; ARGV = the run's most new articles in all (0: no
# limit), per source (0: no limit), the source, then the URLs of its new articles a process
# found. Returns the run's total granted, then a flag per URL: 1 granted to this process, 0 over
# a limit, 2 granted before, to any member (counted then; its request is most often queued).
# Every member's discoveries count against one budget (spiders/limits.py).
GRANT = """
local most, cap, source = tonumber(ARGV[1]), tonumber(ARGV[2]), 'source:' .. ARGV[3]
local total = tonumber(redis.call('HGET', KEYS[1], 'total') or '0')
local mine = tonumber(redis.call('HGET', KEYS[1], source) or '0')
local flags = {}
for i = 4, #ARGV do
  if redis.call('SISMEMBER', KEYS[2], ARGV[i]) == 1 then
    flags[#flags + 1] = 2
  elseif (most > 0 and total >= most) or (cap > 0 and mine >= cap) then
    flags[#flags + 1] = 0
  else
    redis.call('SADD', KEYS[2], ARGV[i])
    total, mine = total + 1, mine + 1
    flags[#flags + 1] = 1
  end
end
redis.call('HSET', KEYS[1], 'total', total, source, mine)
return {total, flags}
"""
