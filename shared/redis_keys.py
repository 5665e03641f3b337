"""The one Redis key layout. Per-charger keys carry a `{chargerId}` hash tag for Redis Cluster."""

from __future__ import annotations

import zlib
from dataclasses import dataclass


# Fields of the per-charger hash (Keys.charger). Connector fields are suffixed with ":<n>".
class F:
    OWNER = "owner"  # partner id, set by admin assignment
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


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str = "evcs"

    def charger(self, charger_id: str) -> str:
        return f"{self.prefix}:cp:{{{charger_id}}}"

    @property
    def nodes(self) -> str:
        """Sorted set: node id -> epoch seconds until which the node counts as alive."""
        return f"{self.prefix}:nodes"

    def node_channel(self, node_id: str) -> str:
        return f"{self.prefix}:node:{node_id}:commands"

    def reply_channel(self, instance_id: str) -> str:
        return f"{self.prefix}:gw:{instance_id}:replies"

    def stream(self, shard: int) -> str:
        return f"{self.prefix}:events:{{{shard}}}"

    def streams(self, shards: int) -> list[str]:
        return [self.stream(i) for i in range(shards)]

    def stream_for(self, charger_id: str, shards: int) -> str:
        # crc32 is stable across processes, unlike hash(); one charger always lands in one shard
        return self.stream(zlib.crc32(charger_id.encode()) % shards if shards > 1 else 0)

    @property
    def transaction_ids(self) -> str:
        return f"{self.prefix}:txid"

    @property
    def chargers_synced(self) -> str:
        return f"{self.prefix}:meta:chargers_synced"

    def rate(self, partner_id: str) -> str:
        return f"{self.prefix}:rl:{{{partner_id}}}"

    def idempotency(self, partner_id: str, key: str) -> str:
        return f"{self.prefix}:idem:{{{partner_id}}}:{key}"


RECORDER_GROUP = "recorder"
