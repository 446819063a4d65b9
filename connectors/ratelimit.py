"""Rate budget per connection, shared by every worker process: a token bucket kept in Redis.

The bucket is a GCRA (generic cell rate algorithm): Redis keeps one number per connection, the
"theoretical arrival time" of the next call. Each call reserves its slot atomically in one Lua
script, on Redis' own clock (so the workers' clocks never matter), and is told how long to sleep
before it may go. Reserving rather than polling means one Redis round trip per call, however busy.
At most ``burst`` calls start at once, and over any T seconds at most ``burst + rate * T`` start.
"""

import logging
import threading
import time

import redis
from django.conf import settings

log = logging.getLogger(__name__)

# KEYS[1] the bucket; ARGV[1] seconds per call (1/rate); ARGV[2] burst.
# Returns the wait in microseconds before the reserved call may start.
_RESERVE = """
redis.replicate_commands()
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local next_tat = tat + interval
local wait = next_tat - now - burst * interval
if wait < 0 then wait = 0 end
redis.call('SET', KEYS[1], string.format('%.6f', next_tat), 'PX', math.ceil((next_tat - now) * 1000) + 1000)
return math.floor(wait * 1000000)
"""

_clients: dict[str, redis.Redis] = {}
_scripts: dict[str, object] = {}
_lock = threading.Lock()


def _script():
    url = settings.RQ_QUEUES["default"]["URL"]
    with _lock:
        script = _scripts.get(url)
        if script is None:
            client = _clients[url] = redis.Redis.from_url(url)
            script = _scripts[url] = client.register_script(_RESERVE)
    return script


class Budget:
    """Calls per second (and a burst) allowed to one connection, from all workers together."""

    def __init__(self, key: str, rate: float, burst: int | None = None):
        self.key = f"hub:rate:{key}"
        self.rate = float(rate)
        self.burst = max(1, int(burst or 1))

    @classmethod
    def of(cls, connection) -> "Budget | None":
        """The connection's budget, or None when it has no limit."""
        rate = getattr(connection, "rate_limit", None)
        if not rate or getattr(connection, "pk", None) is None:
            return None
        return cls(f"connection:{connection.pk}", rate, connection.rate_burst)

    def reserve(self) -> float:
        """Reserve the next call's slot; seconds to wait before making it."""
        return _script()(keys=[self.key], args=[1.0 / self.rate, self.burst]) / 1_000_000

    def wait(self) -> float:
        """Block until this call fits the budget; returns the seconds waited.

        If Redis cannot be reached the call goes ahead: the database is the source of truth and a
        worker without Redis has no jobs to run anyway, so the budget is not worth failing a delivery."""
        try:
            delay = self.reserve()
        except redis.RedisError as exc:
            log.warning("rate budget %s not applied (Redis: %s)", self.key, exc)
            return 0.0
        if delay > 0:
            time.sleep(delay)
        return delay
