"""The one Redis key layout. Per-charger keys carry a `{chargerId}` hash tag for Redis Cluster;
the event stream shards carry tags chosen so that their slots spread evenly over the slot
space, so on a cluster whose primaries hold even slot ranges each shard lands on a primary of
its own (with more shards than primaries, they spread as evenly as the ranges allow)."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from redis.crc import key_slot

if TYPE_CHECKING:
    from shared.settings import Settings

SLOTS = 16384


@cache
def shard_tag(shard: int, shards: int) -> str:
    """The hash tag of stream shard `shard` of `shards`: the first decimal number whose slot
    lies in the shard's even share of the slot space ("0" when there is one shard)."""
    low, high = SLOTS * shard // shards, SLOTS * (shard + 1) // shards
    candidate = 0
    while not low <= key_slot(str(candidate).encode()) < high:
        candidate += 1
    return str(candidate)


def tag_of(stream: str) -> str:
    """A stream shard's tag: what the braces its key ends with hold."""
    return stream[stream.rindex("{") + 1 : -1]


_GLOB_SPECIAL = re.compile(r"[*?\[\]\\]")


def _glob_literal(text: str) -> str:
    """The text as a SCAN pattern that matches only itself."""
    return _GLOB_SPECIAL.sub(lambda m: "\\" + m[0], text)


# Fields of the per-charger hash (Keys.charger). Connector fields are suffixed with ":<n>".
class F:
    OWNER = "owner"  # partner id, set by admin assignment
    OWNER_SINCE = "osince"  # epoch ms since when OWNER has the charger ("" for no owner)
    REGISTERED = "reg"  # "1" when registered by an admin
    PASSWORD = "pw"  # salted hash of the charge point password
    REMOVED = "removed"  # "1" once decommissioned
    PROTOCOL = "proto"
    NODE = "node"
    GENERATION = "gen"
    ONLINE = "online"  # "1" while a connection is open on NODE
    SEEN = "seen"  # epoch seconds of the last frame from the charger
    STATUS_TS = "sts"  # charger's timestamp of its latest status
    KWH = "kwh"  # latest energy register reading, kWh
    KWH_TS = "kwh_ts"
    VENDOR = "vendor"
    MODEL = "model"
    FIRMWARE = "fw"
    RAW = "st:"  # raw OCPP connector status, per connector
    CHARGING_STATE = "cs:"  # OCPP 2.0.1 transaction charging state, per EVSE
    TRANSACTION = "tx:"  # running transaction id, per connector
    TX_TOKEN = "tk:"  # the registered token (canonical id) its transaction runs for, per connector
    # 2.0.1: the running transaction's latest energy reading in Wh, per EVSE, after a "?" while
    # its start reading is still to come (Session.meter_state)
    TX_METER = "wh:"
    TX_START = "txs:"  # 1.6: what the running transaction's StartTransaction said, per connector
    ENDED = "ended"  # JSON list of the latest transaction ids that ended, latest last
    # counts a single server's fenced transaction writes (csms/store.py): a connection whose
    # handshake read an older count reads the state again as it attaches
    TX_VERSION = "txv"


# Fields of a token's hash (Keys.token): its registry row, as csms reads it on every Authorize.
class TF:
    STATUS = "status"  # Accepted, Blocked or Expired
    EXPIRES = "exp"  # epoch seconds; "" for never
    GROUP = "group"  # group id (parentIdTag / groupIdToken); "" for none
    PARTNER = "partner"  # owning partner; "" for the operator's own
    TYPE = "type"  # OCPP 2.0.1 IdTokenEnumType


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str = "evcs"
    shards: int = 1  # event stream shards (EVCS_STREAM_SHARDS)

    @classmethod
    def of(cls, settings: Settings) -> Keys:
        return cls(settings.redis_prefix, settings.stream_shards)

    def charger(self, charger_id: str) -> str:
        return f"{self.prefix}:cp:{{{charger_id}}}"

    def token(self, uid: str) -> str:
        """A registered token's hash, by its canonical (upper-case) id."""
        return f"{self.prefix}:tok:{{{uid}}}"

    def token_grant(self, uid: str, charger_id: str) -> str:
        """A remote start's word for an unregistered token on one charger, for a while; same
        slot as the token's hash, so the lookup that reads it costs no extra round trip."""
        return f"{self.prefix}:tok:{{{uid}}}:rs:{charger_id}"

    def token_tx(self, uid: str) -> str:
        """The transaction a registered token runs now ("chargerId txId"); same slot as its
        hash, so one round trip reads both."""
        return f"{self.prefix}:tok:{{{uid}}}:tx"

    @property
    def nodes(self) -> str:
        """Sorted set: node id -> epoch seconds until which the node counts as alive."""
        return f"{self.prefix}:nodes"

    # Channels are sharded pub/sub channels on a cluster: each lives on the shard its name
    # hashes to, so a node's commands do not travel to every primary.
    def node_channel(self, node_id: str) -> str:
        return f"{self.prefix}:node:{node_id}:commands"

    def reply_channel(self, instance_id: str) -> str:
        return f"{self.prefix}:gw:{instance_id}:replies"

    @property
    def registry_changes(self) -> str:
        """Announces registry changes that gateways and nodes cache."""
        return f"{self.prefix}:registry:changes"

    def stream(self, shard: int) -> str:
        return f"{self.prefix}:events:{{{shard_tag(shard, self.shards)}}}"

    def streams(self) -> list[str]:
        return [self.stream(i) for i in range(self.shards)]

    @property
    def streams_pattern(self) -> str:
        """A SCAN pattern for every stream shard of this prefix, whatever shard count named it."""
        return f"{_glob_literal(self.prefix)}:events:{{*}}"

    def refused(self, stream: str) -> str:
        """A shard's entries that could not be recorded (PostgreSQL refused them, or they make
        no rows), set aside for an operator beside the shard."""
        return f"{self.prefix}:events-refused:{{{tag_of(stream)}}}"

    def shard_of(self, charger_id: str) -> int:
        # crc32 is stable across processes, unlike hash(); one charger always lands in one shard
        return zlib.crc32(charger_id.encode()) % self.shards if self.shards > 1 else 0

    def stream_for(self, charger_id: str) -> str:
        return self.stream(self.shard_of(charger_id))

    @property
    def transaction_ids(self) -> str:
        return f"{self.prefix}:txid"

    @property
    def chargers_synced(self) -> str:
        return f"{self.prefix}:meta:chargers_synced"

    @property
    def tokens_synced(self) -> str:
        return f"{self.prefix}:meta:tokens_synced"

    def rate(self, partner_id: str) -> str:
        return f"{self.prefix}:rl:{{{partner_id}}}"

    def auth_failures(self, address: str) -> str:
        return f"{self.prefix}:authfail:{{{address}}}"

    def open_streams(self, partner_id: str) -> str:
        return f"{self.prefix}:sse:{{{partner_id}}}"

    def idempotency(self, partner_id: str, key: str) -> str:
        return f"{self.prefix}:idem:{{{partner_id}}}:{key}"

    def console_session(self, digest: str) -> str:
        """An operator's console session, under the SHA-256 of its id: the id itself lives
        only in the operator's cookie."""
        return f"{self.prefix}:session:{{{digest}}}"


RECORDER_GROUP = "recorder"
