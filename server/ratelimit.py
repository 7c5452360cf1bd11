"""Rate limits of the public API, per site and per client network, and the trusted proxies.

Counting is done by the `limits` library (sliding-window counters) in a storage that every
worker shares: Redis when `PRIVACY_CENTER_REDIS` names one (then every machine shares it too),
else, with a SQLite database, a small SQLite file beside it (`server/storage/ratelimit.py`) and,
with PostgreSQL, an UNLOGGED table in it (`server/storage/ratelimit_postgresql.py`), which
every app machine shares. A client is its
network's keyed hash, the same `client_hash` the consent log holds: no raw address is kept
here either. The settings and their defaults are documented in docs/operations.md.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, jsonify, request
from limits import RateLimitItem, parse_many
from limits.errors import ConfigurationError
from limits.storage import RedisStorage, Storage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter
from werkzeug.middleware.proxy_fix import ProxyFix

from .db import get_db
from .decisions import client_hash
from .storage import is_postgresql
from .storage import ratelimit as sqlite_counters  # registers the SQLite storage scheme
from .storage import ratelimit_postgresql as pg_counters  # and the PostgreSQL one
from .storage import registry as registry_store

log = logging.getLogger(__name__)

RATE_LIMIT_ENV = "PRIVACY_CENTER_RATE_LIMIT"
REDIS_ENV = "PRIVACY_CENTER_REDIS"
TRUSTED_PROXIES_ENV = "PRIVACY_CENTER_TRUSTED_PROXIES"

# What a real site's bursts stay under (docs/operations.md says why): a client is one IPv4 /24
# or IPv6 /48, which behind a carrier-grade NAT is thousands of visitors.
DEFAULTS: dict[str, str] = {
    "decisions.client": "1200/minute, 12000/hour",
    "decisions.site": "60000/minute",
    "config.client": "3000/minute",
    "config.site": "300000/minute",
    "consents.client": "120/minute",
}
GROUPS = ("decisions", "config", "consents")
_RULE = re.compile(r"^\s*([a-z]+\.[a-z]+)\s*=\s*(.*?)\s*$")


class ConfigError(ValueError):
    """A setting that cannot be used; the message names the variable and the fix."""


@dataclass(frozen=True)
class Settings:
    """The limits of each rule (`group.scope`); an empty tuple is no limit."""

    rules: dict[str, tuple[RateLimitItem, ...]] = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        return any(self.rules.values())


def _items(name: str, text: str) -> tuple[RateLimitItem, ...]:
    if text.lower() == "off":
        return ()
    try:
        items = parse_many(text)
    except (ValueError, ConfigurationError):
        raise ConfigError(
            f"{RATE_LIMIT_ENV}: '{text}' for {name} is not a list of limits such as "
            "'1200/minute, 12000/hour' (or 'off')"
        ) from None
    for item in items:
        if item.amount < 1:
            raise ConfigError(
                f"{RATE_LIMIT_ENV}: {name} allows 0 requests; write '{name}=off' for no limit"
            )
    return tuple(items)


def parse_settings(value: str | None) -> Settings:
    """`PRIVACY_CENTER_RATE_LIMIT`: `off`, or `rule=limits` entries separated by `;`.

    A rule is `decisions.client`, `decisions.site`, `config.client`, `config.site` or
    `consents.client`; its limits are `N/unit` (second, minute, hour, day) separated by commas,
    or `off`. A rule not named keeps its default; unset or empty: every default.
    """
    text = (value or "").strip()
    if text.lower() == "off":
        return Settings(dict.fromkeys(DEFAULTS, ()))
    rules = {name: _items(name, limits) for name, limits in DEFAULTS.items()}
    for entry in filter(None, (part.strip() for part in text.split(";"))):
        match = _RULE.match(entry)
        if not match:
            raise ConfigError(
                f"{RATE_LIMIT_ENV}: '{entry}' is not 'rule=limits' "
                "(for example 'decisions.client=600/minute'), nor 'off'"
            )
        name, limits = match.groups()
        if name not in DEFAULTS:
            raise ConfigError(
                f"{RATE_LIMIT_ENV}: unknown rule '{name}'; the rules are {', '.join(DEFAULTS)}"
            )
        rules[name] = _items(name, limits)
    return Settings(rules)


def parse_trusted_proxies(value: str | int | None) -> int:
    """How many proxies in front set `X-Forwarded-For` (0: none; the header is ignored)."""
    text = str(value if value is not None else "").strip()
    if not text:
        return 0
    if not text.isdigit() or int(text) > 10:
        raise ConfigError(
            f"{TRUSTED_PROXIES_ENV}: '{text}' is not a number of proxies from 0 to 10 "
            "(how many proxies in front of the server append to X-Forwarded-For)"
        )
    return int(text)


def parse_redis(value: str | None) -> str | None:
    text = (value or "").strip()
    if not text:
        return None
    if not text.startswith(("redis://", "rediss://", "redis+unix://")):
        raise ConfigError(
            f"{REDIS_ENV}: '{text}' is not a redis:// URL (e.g. redis://127.0.0.1:6379/0)"
        )
    return text


def check_environment() -> None:
    """Parse every variable (ConfigError if one is wrong) and reach Redis if one is named,
    so that `serve` stops with one readable line before it starts any worker."""
    parse_settings(os.environ.get(RATE_LIMIT_ENV))
    parse_trusted_proxies(os.environ.get(TRUSTED_PROXIES_ENV))
    url = parse_redis(os.environ.get(REDIS_ENV))
    if url is not None:
        storage = storage_from_string(url)
        try:
            reachable = storage.check()
        finally:
            _close(storage)
        if not reachable:
            raise ConfigError(f"{REDIS_ENV}: no Redis answers at {url}")


# The storages of this package: each counts a request's limits in one transaction.
_OWN = (sqlite_counters.SQLiteStorage, pg_counters.PostgreSQLStorage)


def _close(storage: object) -> None:
    if isinstance(storage, _OWN):
        storage.close()
    else:  # redis: its connection pool
        client = getattr(storage, "storage", None)
        if client is not None:
            client.close()


@dataclass(frozen=True)
class Refusal:
    scope: str  # "client" or "site"
    limit: RateLimitItem
    retry_after: int  # seconds


# limits' own acquire_sliding_window.lua (limits 5.8), run for each of a request's limits in
# turn in one call: one round trip to Redis instead of one per limit, and the client's limits
# still come before the site's. KEYS: (previous, current) window keys per limit, as limits names
# them; ARGV: the amount, then (limit, expiry in seconds) per limit. Returns the 1-based index
# of the first limit that is full (those before it stay acquired), or 0.
_ACQUIRE_MANY_LUA = """
local amount = tonumber(ARGV[1])
for i = 1, #KEYS / 2 do
    local previous_key, current_key = KEYS[2 * i - 1], KEYS[2 * i]
    local limit = tonumber(ARGV[2 * i])
    local expiry = tonumber(ARGV[2 * i + 1]) * 1000
    if amount > limit then
        return i
    end
    local current_ttl = tonumber(redis.call('pttl', current_key))
    if current_ttl > 0 and current_ttl < expiry then
        redis.call('rename', current_key, previous_key)
        redis.call('set', current_key, 0, 'PX', current_ttl + expiry)
    end
    local previous_count = tonumber(redis.call('get', previous_key)) or 0
    local previous_ttl = tonumber(redis.call('pttl', previous_key)) or 0
    local current_count = tonumber(redis.call('get', current_key)) or 0
    current_ttl = tonumber(redis.call('pttl', current_key)) or 0
    if previous_ttl <= 0 then
        previous_ttl = 0
    end
    if current_ttl <= 0 then
        current_ttl = 0
    end
    local weighted_count = math.floor(previous_count * previous_ttl / expiry) + current_count
    if (weighted_count + amount) > limit then
        return i
    end
    if redis.call('exists', current_key) == 1 then
        redis.call('incrby', current_key, amount)
    else
        redis.call('set', current_key, amount, 'PX', expiry * 2)
    end
end
return 0
"""


def _redis_acquire_many(
    storage: RedisStorage, script: Any, entries: list[tuple[str, int, int]]
) -> int | None:
    """What SQLiteStorage.acquire_sliding_window_entries does, in Redis: one round trip."""
    keys, args = [], [1]
    for key, limit, expiry in entries:
        keys += [
            storage.prefixed_key(storage._previous_window_key(key)),
            storage.prefixed_key(storage._current_window_key(key)),
        ]
        args += [limit, expiry]
    full = int(script(keys=keys, args=args))
    return full - 1 if full else None


class Limiter:
    """Counts a request against its rules: the client's first, then the site's, so that a
    refused client does not use up what the site's other visitors may send."""

    def __init__(self, settings: Settings, storage_uri: str, namespace: str):
        self.settings = settings
        self.storage_uri = storage_uri
        self.namespace = namespace
        self._strategy: SlidingWindowCounterRateLimiter | None = None
        self._storage: Storage | None = None
        self._redis_script: Any = None
        self._opening = threading.Lock()  # a threaded server's first requests arrive together
        self._warned = 0.0

    @property
    def strategy(self) -> SlidingWindowCounterRateLimiter:
        # Opened on first use, in the worker that uses it (never before a fork).
        with self._opening:
            if self._strategy is None:
                options: dict[str, Any] = {}
                if not self.storage_uri.startswith((sqlite_counters.SCHEME, pg_counters.SCHEME)):
                    options["key_prefix"] = f"privacy-center:{self.namespace}"
                storage = storage_from_string(self.storage_uri, **options)
                assert isinstance(storage, Storage)
                if isinstance(storage, RedisStorage):
                    self._redis_script = storage.get_connection().register_script(
                        _ACQUIRE_MANY_LUA.encode()
                    )
                self._storage = storage
                self._strategy = SlidingWindowCounterRateLimiter(storage)
            return self._strategy

    def close(self) -> None:
        if self._storage is not None:
            _close(self._storage)
        self._storage = self._strategy = None

    def check(self, group: str, client: str, site: str | None) -> Refusal | None:
        return self.check_many(group, [(client, site)])[0]

    def check_many(
        self, group: str, requests: Sequence[tuple[str, str | None]]
    ) -> list[Refusal | None]:
        """Count each (client, site) request of `group` in turn: its refusal, or None.

        With this project's counter storages, all of them in one transaction (a batch of
        decisions, server/fastpath.py), each seeing the counts of those before it.
        """
        plans = []
        for client, site in requests:
            scopes = [("client", (client,) if site is None else (site, client))]
            if site is not None:
                scopes.append(("site", (site,)))
            plans.append(
                [
                    (scope, ids, item)
                    for scope, ids in scopes
                    for item in self.settings.rules.get(f"{group}.{scope}", ())
                ]
            )
        try:
            strategy = self.strategy
            batches = [
                [
                    (item.key_for(group, scope, *ids), item.amount, item.get_expiry())
                    for scope, ids, item in entries
                ]
                for entries in plans
            ]
            if isinstance(self._storage, _OWN):
                # One transaction for all the requests' counters (see the storage).
                refused = self._storage.acquire_sliding_window_batches(batches)
            elif isinstance(self._storage, RedisStorage):
                refused = [
                    _redis_acquire_many(self._storage, self._redis_script, batch) if batch else None
                    for batch in batches
                ]
            else:
                refused = [
                    next(
                        (
                            index
                            for index, (scope, ids, item) in enumerate(entries)
                            if not strategy.hit(item, group, scope, *ids)
                        ),
                        None,
                    )
                    for entries in plans
                ]
            refusals: list[Refusal | None] = []
            for entries, index in zip(plans, refused, strict=True):
                if index is None:
                    refusals.append(None)
                    continue
                scope, ids, item = entries[index]
                reset = strategy.get_window_stats(item, group, scope, *ids)[0]
                refusals.append(Refusal(scope, item, max(1, math.ceil(reset - time.time()))))
            return refusals
        except Exception as error:  # any fault of the storage, whichever it is
            # A consent must not be lost because the counters are unreachable: let it through,
            # and say so in the log (once a minute, not once a request).
            if time.monotonic() - self._warned > 60:
                self._warned = time.monotonic()
                log.warning("rate limits not applied: %s: %s", type(error).__name__, error)
        return [None] * len(requests)


def limiter_for(app: Flask) -> Limiter | None:
    limiter = app.extensions.get("privacy_center_ratelimit")
    return limiter if isinstance(limiter, Limiter) else None


def refusal_message(refusal: Refusal, site: str | None) -> str:
    if refusal.scope == "site":
        message = f"Site '{site}' is receiving more requests than its limit ({refusal.limit})"
    elif site is not None:
        message = f"Too many requests from your network to site '{site}' ({refusal.limit})"
    else:
        message = f"Too many requests from your network ({refusal.limit})"
    return f"{message}; retry in {refusal.retry_after} s."


def refusal_headers(refusal: Refusal) -> list[tuple[str, str]]:
    return [
        ("Retry-After", str(refusal.retry_after)),
        ("Cache-Control", "no-store"),
        # Cross-origin scripts read only the safelisted headers unless told.
        ("Access-Control-Expose-Headers", "Retry-After"),
    ]


def _refused(refusal: Refusal, site: str | None) -> Response:
    response = jsonify(
        {"error": {"code": "rate_limited", "message": refusal_message(refusal, site)}}
    )
    response.status_code = 429
    for name, value in refusal_headers(refusal):
        response.headers[name] = value
    return response


View = TypeVar("View", bound=Callable[..., Any])


def limited(group: str) -> Callable[[View], View]:
    """Count each request of the view against `group`'s rules; 429 once one is used up.

    Views with a `site_key` count per site and per client on that site; others per client.
    A preflight is not counted; a site that does not exist is left to the view (404), so that
    made-up site keys create no counters.
    """
    if group not in GROUPS:
        raise ValueError(f"unknown rate-limit group {group!r}")

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            limiter = limiter_for(current_app)
            if limiter is None or request.method == "OPTIONS":
                return view(*args, **kwargs)
            site = kwargs.get("site_key")
            if site is not None:
                origins = registry_store.site_origins(get_db(), site)
                if origins is None:
                    return view(*args, **kwargs)
                # The site's CORS allow-list: the view reuses it, and a refusal carries it so
                # that the widget can read it.
                g.cors_origins = origins
            client = client_hash(current_app.config["SECRET_KEY"], request.remote_addr)
            refusal = limiter.check(group, client or "unknown", site)
            if refusal is None:
                return view(*args, **kwargs)
            return _refused(refusal, site)

        return wrapper  # type: ignore[return-value]

    return decorate


def counter_file(database: str) -> Path:
    """The SQLite counters' file: beside the database, never inside it."""
    path = Path(database)
    return path.with_name(path.stem + "-ratelimit.db")


def _namespace(secret_key: str) -> str:
    # Every machine of a deployment has the same secret key, so shares the same keys in Redis;
    # two deployments (or test runs) on one Redis never count into each other's.
    return hmac.new(secret_key.encode(), b"ratelimit", hashlib.sha256).hexdigest()[:12]


def init_app(app: Flask) -> None:
    """Read the settings (app config first, else the environment) and install the limiter
    and, with trusted proxies, ProxyFix. A wrong setting stops the app from starting."""

    def setting(key: str, env: str) -> Any:
        return app.config[key] if key in app.config else os.environ.get(env)

    settings = parse_settings(setting("RATE_LIMIT", RATE_LIMIT_ENV))
    redis_url = parse_redis(setting("RATE_LIMIT_REDIS", REDIS_ENV))
    proxies = parse_trusted_proxies(setting("TRUSTED_PROXIES", TRUSTED_PROXIES_ENV))
    if proxies:
        # The client address becomes the one the nearest `proxies` proxies saw; without this
        # setting X-Forwarded-For is only a header anyone can write, and nothing reads it.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies)  # type: ignore[method-assign]
    if settings.enabled:
        database = app.config["DATABASE"]
        uri = redis_url or (
            pg_counters.uri_for(database)
            if is_postgresql(database)
            else sqlite_counters.uri_for(str(counter_file(database)))
        )
        app.extensions["privacy_center_ratelimit"] = Limiter(
            settings, uri, _namespace(app.config["SECRET_KEY"])
        )
