"""Typed keys for what the gateway app and each request carry."""

from __future__ import annotations

import asyncio

import asyncpg
import redis.asyncio as redis
from aiohttp import web

from gateway.auth import Authenticator
from gateway.auth_throttle import AuthThrottle
from gateway.commands import CommandBus
from gateway.dispatch import Dispatcher
from gateway.feed import EventFeed
from gateway.local_list_sync import ListSync
from gateway.nodes import AliveNodes
from gateway.ratelimit import Decision, RateLimiter
from gateway.sessions import Sessions, SignedIn
from gateway.stream_slots import StreamSlots
from gateway.system import Census
from shared.redis_keys import Keys
from shared.redis_lane import HotPath
from shared.registry import KeyRecord
from shared.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
KEYS = web.AppKey("keys", Keys)
REDIS = web.AppKey("redis", redis.Redis)
POOL = web.AppKey("pool", asyncpg.Pool)  # set on startup: creating a pool needs the loop
NODES = web.AppKey("nodes", AliveNodes)
BUS = web.AppKey("bus", CommandBus)
AUTH = web.AppKey("auth", Authenticator)
THROTTLE = web.AppKey("throttle", AuthThrottle)
LIMITER = web.AppKey("limiter", RateLimiter)
# the partner API's hot path to Redis (shared.redis_lane): rate limits and status reads
HOT = web.AppKey("hot_path", HotPath)
DISPATCH = web.AppKey("dispatch", Dispatcher)
FEED = web.AppKey("feed", EventFeed)
SLOTS = web.AppKey("slots", StreamSlots)
SESSIONS = web.AppKey("sessions", Sessions)
CENSUS = web.AppKey("census", Census)
LIST_SYNC = web.AppKey("list_sync", ListSync)
DRAINING = web.AppKey("draining", asyncio.Event)  # set on SIGTERM, before the listener closes
# [monotonic time of the latest answer while draining]: is a load balancer still sending?
LAST_ANSWER = web.AppKey("last_answer", list[float])

PARTNER = web.RequestKey("partner", KeyRecord)
RATE = web.RequestKey("rate", Decision)
# (key, fields) of the hash the route's prefetch named, read beside the rate limit
PREFETCHED = web.RequestKey("prefetched", tuple[str, dict[str, str]])
ADMIN_ACTOR = web.RequestKey("admin_actor", str)  # who, for the audit log
SIGNED_IN = web.RequestKey("signed_in", SignedIn)  # set when the admin came with a session


def partner_id(request: web.Request) -> str:
    """The authenticated partner of a request that went through the guard."""
    return request[PARTNER].partner_id
