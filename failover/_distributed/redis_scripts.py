"""The Lua scripts of RedisStorage (``failover.redis_storage`` re-exports them): each write to
the shared state is one script, so that two processes never see half a change. Numbers reach
them as whole milliseconds, never infinity nor NaN (``failover.redis_storage._ms``)."""

from __future__ import annotations

__all__ = [
    "ACQUIRE_SCRIPT",
    "CAS_SCRIPT",
    "LEASE_SCRIPT",
    "LOAD_SCRIPT",
    "PROBE_SCRIPT",
    "RELEASE_SCRIPT",
    "SEED_SCRIPT",
]

_NOW_MS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

_RECORD = """
local function record(key, now)
  local r = redis.call('HMGET', key, 'state', 'gen', 'seq', 'openings', 'reason', 'deadline',
    'op')
  if not r[2] then return {'closed', 0, 0, 0, '', -1, ''} end
  local left = -1
  if r[6] and r[6] ~= '' then left = math.max(tonumber(r[6]) - now, 0) end
  return {r[1], tonumber(r[2]), tonumber(r[3]), tonumber(r[4]), r[5] or '', left, r[7] or ''}
end
"""

CAS_SCRIPT = (
    _NOW_MS
    + _RECORD
    + """
-- KEYS: state hash, events stream. ARGV: expected gen, state, openings, reason,
-- remaining ms (-1: none), event JSON, origin, stream maxlen, channel, provider,
-- operator stamp ('': keep the stored one)
local gen = tonumber(redis.call('HGET', KEYS[1], 'gen') or '0')
if gen ~= tonumber(ARGV[1]) then
  local r = record(KEYS[1], now)
  table.insert(r, 1, 0)
  return r
end
gen = gen + 1
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0') + 1
local left = tonumber(ARGV[5])
local deadline = ''
if left >= 0 then deadline = now + left end
local op = ARGV[11]
if op == '' then op = redis.call('HGET', KEYS[1], 'op') or '' end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'gen', gen, 'seq', seq, 'openings', ARGV[3],
  'reason', ARGV[4], 'deadline', deadline, 'op', op)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[8], seq .. '-0', 'event', ARGV[6],
  'gen', gen, 'origin', ARGV[7], 'time', now)
redis.call('PUBLISH', ARGV[9], cjson.encode({p = ARGV[10], s = ARGV[2], g = gen, q = seq,
  o = tonumber(ARGV[3]), r = ARGV[4], d = left, src = ARGV[7], op = op}))
return {1, ARGV[2], gen, seq, tonumber(ARGV[3]), ARGV[4], left, op}
"""
)
"""Compare-and-set of one provider's state on its generation, with the event and the publish."""

SEED_SCRIPT = (
    _NOW_MS
    + _RECORD
    + """
-- KEYS: state hash. ARGV: state, gen, seq, openings, reason, remaining ms (-1: none),
-- operator stamp
local gen = tonumber(redis.call('HGET', KEYS[1], 'gen') or '-1')
if gen < tonumber(ARGV[2]) then
  local deadline = ''
  if tonumber(ARGV[6]) >= 0 then deadline = now + tonumber(ARGV[6]) end
  redis.call('HSET', KEYS[1], 'state', ARGV[1], 'gen', ARGV[2], 'seq', ARGV[3],
    'openings', ARGV[4], 'reason', ARGV[5], 'deadline', deadline, 'op', ARGV[7])
end
return record(KEYS[1], now)
"""
)
"""Store a process's known state unless the stored one is as new (after Redis lost its data)."""

LOAD_SCRIPT = (
    _NOW_MS
    + _RECORD
    + """
-- KEYS: state hash
if redis.call('EXISTS', KEYS[1]) == 0 then return nil end
return record(KEYS[1], now)
"""
)
"""Read one provider's record, with the time left until its deadline."""

ACQUIRE_SCRIPT = """
-- KEYS: state hash, permits counter. ARGV: generation, cap, ttl ms
if redis.call('HGET', KEYS[1], 'gen') ~= ARGV[1] then return 0 end
local taken = tonumber(redis.call('GET', KEYS[2]) or '0')
if taken >= tonumber(ARGV[2]) then return 0 end
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
"""
"""Take one half-open probe permit of a generation, under the cap, with a TTL."""

RELEASE_SCRIPT = """
-- KEYS: permits counter
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end
return 1
"""
"""Give one probe permit back."""

PROBE_SCRIPT = """
-- KEYS: state hash. ARGV: generation, 1 (succeeded) or 0 (failed)
if redis.call('HGET', KEYS[1], 'gen') ~= ARGV[1] then return nil end
if redis.call('HGET', KEYS[1], 'rgen') ~= ARGV[1] then
  redis.call('HSET', KEYS[1], 'rgen', ARGV[1], 'rok', 0, 'rfail', 0)
end
if ARGV[2] == '1' then
  redis.call('HINCRBY', KEYS[1], 'rok', 1)
else
  redis.call('HINCRBY', KEYS[1], 'rfail', 1)
end
local r = redis.call('HMGET', KEYS[1], 'rok', 'rfail')
return {tonumber(r[1]), tonumber(r[2])}
"""
"""Count one finished probe of the stored generation's half-open round; both counts, or nil
when the generation is not the stored one (a stale probe counts nowhere)."""

LEASE_SCRIPT = (
    _NOW_MS
    + """
-- KEYS: rate hash. ARGV: window ms, limit, wanted
local size = tonumber(ARGV[1])
local bucket = math.floor(now / size)
local r = redis.call('HMGET', KEYS[1], 'bucket', 'used')
local used = 0
if r[1] and tonumber(r[1]) == bucket then used = tonumber(r[2]) end
local granted = math.max(math.min(tonumber(ARGV[3]), tonumber(ARGV[2]) - used), 0)
local reset = (bucket + 1) * size - now
redis.call('HSET', KEYS[1], 'bucket', bucket, 'used', used + granted)
redis.call('PEXPIRE', KEYS[1], reset)
return {granted, reset}
"""
)
"""Lease requests of the current fixed bucket of a rate-limit window, capped at the limit."""
