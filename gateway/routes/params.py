"""Path and header parameters that endpoints of several modules take."""

from __future__ import annotations

from gateway.api import Param
from gateway.schemas import CHARGER_ID_PATTERN
from shared.ids import PARTNER_ID_RE, TOKEN_ID_RE

CHARGER = Param(
    "chargerId",
    "path",
    "The charger's id. Unknown ids and other partners' chargers alike are 404.",
    {"type": "string", "pattern": CHARGER_ID_PATTERN, "maxLength": 48},
    "CP-0001",
)
IDEMPOTENCY_KEY = Param(
    "Idempotency-Key",
    "header",
    "Your unique id for this request (e.g. a UUID). Sent again with the same body within"
    " 24 h, it replays the first answer (Idempotent-Replayed: true) without sending the command"
    " again; with another body it is 422; while the first is still running, 409.",
    {"type": "string", "pattern": "^[!-~]{1,255}$"},
    "7d0c2f52-3c1e-4d7b-9a55-0f4e8a3b6c21",
)
PREFER = Param(
    "Prefer",
    "header",
    "`respond-async`: answer 202 at once (as ?mode=async does; an explicit mode wins)",
    {"type": "string"},
    "respond-async",
)
PARTNER = Param(
    "partnerId",
    "path",
    "The partner's id",
    {"type": "string", "pattern": PARTNER_ID_RE.pattern},
    "acme",
)
TOKEN = Param(
    "tokenId",
    "path",
    "The token's id (RFID idTag / idToken), whatever the case. Unknown ids and, for a"
    " partner, other partners' tokens alike are 404.",
    {"type": "string", "pattern": TOKEN_ID_RE.pattern, "maxLength": 36},
    "04A2B3C4D5E6F7",
)
