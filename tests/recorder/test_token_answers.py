"""A transaction start keeps the central system's answer to its token: a refused start is
recorded as refused, with the partner whose token it was, and a start sent again (a 2.0.1
token presented later, a re-delivered batch) keeps the first answer."""

from __future__ import annotations

import asyncpg

from recorder import rows, writer
from shared import events as ev


async def test_the_answer_to_a_start_and_its_token_partner_are_recorded(
    pool: asyncpg.Pool, uid: str
) -> None:
    cp = f"REC-TOK-{uid}"
    batch = rows.Batch()
    refused = ev.tx_start(
        cp,
        1.0,
        connector=1,
        transaction_id="7",
        id_tag="CARD",
        meter_start_wh=0.0,
        ts="2026-01-01T00:00:00Z",
        auth_status="Blocked",
        token_partner="acme",
    )
    rows.add(batch, "1767225600000-0", refused)
    unanswered = ev.tx_start(
        cp,
        1.0,
        connector=2,
        transaction_id="8",
        id_tag=None,
        meter_start_wh=None,
        ts="2026-01-01T00:00:00Z",
    )
    rows.add(batch, "1767225600000-1", unanswered)
    await writer.write(pool, batch)
    # 2.0.1: the token came later, with the start again; and a start re-delivered
    later = rows.Batch()
    rows.add(later, "1767225600001-0", {**unanswered, "id_tag": "LATE", "auth_status": "Accepted"})
    rows.add(later, "1767225600001-1", {**refused, "auth_status": "Accepted"})
    await writer.write(pool, later)
    found = {
        r["transaction_id"]: (r["id_tag"], r["auth_status"], r["token_partner_id"])
        for r in await pool.fetch("SELECT * FROM transactions WHERE charger_id = $1", cp)
    }
    assert found == {"7": ("CARD", "Blocked", "acme"), "8": ("LATE", "Accepted", None)}
