"""The operator console in a real browser against a running system with the demo chargers
simulated: signing in, the fleet, starting a charger from its page and seeing it charge
without a reload, every button reaching an OCPP 2.0.1 charger and a reset it comes back from,
a new API key shown once, signing out, tokens, the other pages on a desktop and a tablet, and
the keyboard. With EVCS_CONSOLE_SCREENSHOTS set the same tests write the operator guide's
screenshots."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import redis.asyncio as redis

from evcs import demo
from gateway import sessions
from tests.console.browser import Page, find_browser
from tests.console.conftest import (
    ADMIN_TOKEN,
    NO_BROWSER,
    Console,
    eventually,
    screenshots_wanted,
    shoot,
)

if find_browser() is None:
    # one line in the summary for the whole module, never a pass
    pytest.skip(NO_BROWSER, allow_module_level=True)

# Every form control has a name a screen reader can say.
UNLABELLED = """[...document.querySelectorAll('input, select, textarea')]
    .filter((e) => e.type !== 'hidden' && !e.labels.length && !e.getAttribute('aria-label'))
    .map((e) => e.name || e.outerHTML)"""


async def sign_in(page: Page, console: Console, name: str = "alice") -> None:
    await page.goto(console.console_url)
    await page.wait_for_selector("input[name=token]")
    await page.type("input[name=token]", ADMIN_TOKEN)
    await page.type("input[name=actor]", name)
    await page.press("Enter")
    await shown(page, "Fleet")


async def shown(page: Page, title: str) -> None:
    """Wait until the page titled `title` is drawn whole: the console then moves the focus to
    its heading, which would take the keys of anything typed before."""
    await page.wait_for(
        f"document.querySelector('main h1')?.innerText === {json.dumps(title)}"
        " && document.activeElement === document.querySelector('main h1')",
        what=f"the page {title}",
    )


async def fleet_rows(page: Page) -> dict[str, str]:
    rows = await page.evaluate(
        "Object.fromEntries([...document.querySelectorAll('tr[data-charger]')]"
        ".map((r) => [r.dataset.charger, r.innerText]))"
    )
    assert isinstance(rows, dict)
    return rows


async def _filtered(page: Page, ready: str) -> None:
    """Submit a filter form with Enter and wait until the page it leads to is `ready`. A
    filter renders the page anew on hashchange, which fires after the hash is set: the page
    from before is marked, so that it cannot pass for the new one (its forms are dropped)."""
    await page.evaluate("document.querySelector('main h1').dataset.before = '1'")
    await page.press("Enter")
    await page.wait_for(
        "document.querySelector('main h1') && !document.querySelector('main h1[data-before]')"
        f" && ({ready})"
    )


async def test_signing_in_shows_the_fleet_with_the_demo_chargers(
    page: Page, console: Console
) -> None:
    await page.goto(console.console_url)
    await page.wait_for_selector("input[name=token]")
    assert await page.evaluate(UNLABELLED) == []
    await shoot(page, "sign-in")
    # a wrong token: told so, and no session
    await page.type("input[name=token]", "not-the-token")
    await page.press("Enter")
    await page.wait_for(
        "document.querySelector('[role=alert]')?.innerText.includes('not the admin token')"
    )
    assert await page.cookies() == []

    await page.type("input[name=token]", ADMIN_TOKEN)
    await page.type("input[name=actor]", "alice")
    await page.click("button[type=submit]")
    await shown(page, "Fleet")
    assert await page.text("#who") == "console:alice"
    [cookie] = await page.cookies()
    assert cookie["name"] == sessions.COOKIE and cookie["httpOnly"]
    assert cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    assert "evcs_session" not in await page.evaluate("document.cookie")  # no script reads it
    assert await page.evaluate(UNLABELLED) == []

    # the fleet is filtered by the gateway: search the demo chargers by id
    await page.type("input[name=q]", "DEMO")
    await _filtered(
        page,
        "location.hash.includes('q=DEMO') && document.querySelectorAll('tr[data-charger]').length === 3",
    )
    rows = await fleet_rows(page)
    assert set(rows) == {cp for cp, _ in demo.DEMO_CHARGERS}
    for cp, protocol in demo.DEMO_CHARGERS:
        assert "Online" in rows[cp] and protocol in rows[cp] and demo.DEMO_PARTNER in rows[cp]
        assert re.search(r"\b1: (Available|Preparing|Charging)", rows[cp]), rows[cp]
    await shoot(page, "fleet")

    # and by status, on the server too
    await page.evaluate("document.querySelector('select[name=status]').value = 'REMOVED'")
    await page.evaluate(
        "document.querySelector('select[name=status]').dispatchEvent(new Event('change'))"
    )
    await page.wait_for("location.hash.includes('status=REMOVED')")
    await page.wait_for(
        "document.querySelector('[role=status]')?.innerText.includes('No charger matches')"
    )


async def test_starting_a_charger_from_its_page_shows_it_charging_without_a_reload(
    page: Page, console: Console
) -> None:
    cp = "DEMO-16-1"
    await sign_in(page, console)
    await page.goto(f"{console.console_url}#/chargers/{cp}")
    await page.wait_for("document.querySelector('#charger-status')?.innerText === 'AVAILABLE'")
    await page.wait_for("!document.querySelector('main .loading')", what="the page to load")
    await page.wait_for_selector("fieldset form input[name=idTag]")
    assert await page.evaluate(UNLABELLED) == []
    await page.evaluate("window.stillTheSamePage = true")

    await page.type("input[name=idTag]", "CONSOLE-1")
    await page.click(".actions > fieldset:nth-of-type(1) button[type=submit]")
    await page.wait_for(
        "document.querySelector('#command-outcome')?.innerText.includes('ACCEPTED')",
        what="the command's outcome",
    )
    assert "RemoteStartTransaction" in await page.text("#command-outcome")
    await page.wait_for(
        "document.querySelector('#charger-status')?.innerText === 'CHARGING'",
        timeout=60,
        what="CHARGING",
    )
    assert await page.evaluate("window.stillTheSamePage") is True  # no reload
    await page.wait_for(
        "document.querySelector('#current-session')?.innerText.includes('CONSOLE-1')"
    )
    # the status change and the command are listed as they happen
    await page.wait_for(
        "[...document.querySelectorAll('#h-status ~ div td')].some((td) => td.innerText === 'Charging')"
    )
    await page.wait_for(
        "[...document.querySelectorAll('#h-commands ~ div td')].some((td) => td.innerText === 'RemoteStartTransaction')"
    )

    if screenshots_wanted():
        await _earlier_session(console, cp)

        # some charging on the chart: the recorder has written the meter values
        async def charged_a_while() -> bool:
            since = datetime.now(UTC) - timedelta(minutes=5)
            count = await console.pool.fetchval(
                "SELECT count(*) FROM meter_values WHERE charger_id = $1 AND received_at > $2"
                " AND measurand = 'Power.Active.Import' AND value > 0",
                cp,
                since,
            )
            return int(count) >= 12

        await eventually(charged_a_while, timeout=120)
        await page.evaluate(
            "(() => { const s = document.querySelector('select[name=hours]'); s.value = '1';"
            " s.dispatchEvent(new Event('change')); })()"
        )
        await page.wait_for("document.querySelector('svg.chart polyline')")
        await page.wait_for("document.querySelector('#session-power')?.innerText.includes('kW')")
        await page.wait_for("document.querySelector('#session-energy')?.innerText.includes('kWh')")
        await shoot(page, "charger")

    # stop it again from the same page
    await page.wait_for_selector(".actions > fieldset:nth-of-type(2) select[name=tx]")
    await page.click(".actions > fieldset:nth-of-type(2) button[type=submit]")
    await page.wait_for(
        "document.querySelector('#command-outcome')?.innerText.includes('RemoteStopTransaction ACCEPTED')"
    )
    await page.wait_for(
        "document.querySelector('#charger-status')?.innerText === 'AVAILABLE'", timeout=60
    )
    assert await page.evaluate("window.stillTheSamePage") is True


def fieldset(n: int) -> str:
    """The charger page's command forms, in order: 1 start, 2 stop, 3 reset, 4 unlock,
    5 availability, 6 trigger, 7 any OCPP message."""
    return f".actions > fieldset:nth-of-type({n})"


async def choose(page: Page, selector: str, value: str) -> None:
    await page.evaluate(
        f"(() => {{ const s = document.querySelector({json.dumps(selector)});"
        f" s.value = {json.dumps(value)}; s.dispatchEvent(new Event('change')); }})()"
    )


async def send(page: Page, form: int, expect: str) -> str:
    """Press a form's button; the outcome it shows, once it shows `expect`."""
    await page.evaluate("document.querySelector('#command-outcome').textContent = ''")
    await page.click(f"{fieldset(form)} button[type=submit]")
    shown = "document.querySelector('#command-outcome').innerText"
    await page.wait_for(
        f"(t => t.includes({json.dumps(expect)}) && !t.includes('sending'))({shown})",
        what=expect,
    )
    return await page.text("#command-outcome")


async def test_the_buttons_reach_a_2_0_1_charger_and_a_reset_brings_it_back(
    page: Page, console: Console
) -> None:
    cp = "DEMO-201-1"
    charger = console.chargers[cp]
    await sign_in(page, console)
    await page.goto(f"{console.console_url}#/chargers/{cp}")
    await page.wait_for("document.querySelector('#charger-status')?.innerText === 'AVAILABLE'")
    await page.wait_for("!document.querySelector('main .loading')", what="the page to load")

    await choose(page, f"{fieldset(6)} select[name=message]", "StatusNotification")
    await choose(page, f"{fieldset(6)} select[name=connector]", "1")
    await send(page, 6, "TriggerMessage ACCEPTED")

    await choose(page, f"{fieldset(5)} select[name=connector]", "1")
    await choose(page, f"{fieldset(5)} select[name=kind]", "Inoperative")
    await send(page, 5, "ChangeAvailability ACCEPTED")
    await page.wait_for("document.querySelector('#charger-status')?.innerText === 'INOPERATIVE'")
    await choose(page, f"{fieldset(5)} select[name=kind]", "Operative")
    await send(page, 5, "ChangeAvailability ACCEPTED")
    await page.wait_for("document.querySelector('#charger-status')?.innerText === 'AVAILABLE'")

    assert "the charger said" in await send(page, 4, "UnlockConnector")  # it answered
    await page.type(f"{fieldset(7)} input[name=action]", "ClearCache")
    assert "the charger said" in await send(page, 7, "ClearCache")

    # Reset: the charger goes away, boots again and reports its EVSE; the page shows it all
    await page.evaluate(
        "window.before = document.querySelector('#h-status ~ div tbody tr'); window.stillHere = 1"
    )
    boots = charger.boot_count
    await choose(page, f"{fieldset(3)} select[name=type]", "Immediate")
    await send(page, 3, "Reset ACCEPTED")

    async def rebooted() -> bool:
        return charger.boot_count > boots

    await eventually(rebooted)
    await page.wait_for(
        "document.querySelector('#h-status ~ div tbody tr') !== window.before",
        what="the status the charger reports after its boot",
    )
    await page.wait_for("document.querySelector('#charger-status')?.innerText === 'AVAILABLE'")
    await page.wait_for("document.querySelector('dl.facts .link')?.innerText === 'Online'")
    assert await page.evaluate("window.stillHere") == 1  # no reload
    commands = await page.text("#h-commands ~ div")
    for action in ("Reset", "ClearCache", "UnlockConnector", "ChangeAvailability"):
        assert action in commands


async def _earlier_session(console: Console, cp: str) -> None:
    """For the guide's chart: the power of a session earlier in the hour, sampled every 30 s,
    as the recorder would have written it."""
    start = datetime.now(UTC) - timedelta(minutes=55)
    samples = []
    for i in range(80):
        at = start + timedelta(seconds=30 * i)
        watts = 11_000.0 if i < 60 else 11_000.0 * (80 - i) / 20  # tapering as the car fills
        samples.append((f"{int(at.timestamp() * 1000)}-0", at, cp, watts))
    await console.pool.executemany(
        "INSERT INTO meter_values (stream_id, seq, received_at, charger_id, connector_id,"
        " transaction_id, ts, measurand, phase, value, unit)"
        " VALUES ($1, 0, $2, $3, 1, 'earlier', $2, 'Power.Active.Import', NULL, $4, 'W')",
        samples,
    )


async def test_a_new_api_key_is_shown_once(page: Page, console: Console) -> None:
    await sign_in(page, console)
    partner_id = f"console-{datetime.now(UTC):%H%M%S%f}"
    await page.goto(f"{console.console_url}#/partners")
    await page.wait_for_selector("input[name=name]")
    assert await page.evaluate(UNLABELLED) == []
    await page.type("input[name=name]", "Console Mobility")
    await page.type("input[name=id]", partner_id)
    await page.type("input[name=quota]", "100")
    await page.click("form[aria-labelledby=h-create] button[type=submit]")
    await page.wait_for(f"document.querySelector('h1')?.innerText === 'Partner {partner_id}'")

    await page.type("input[name=name][maxlength='100']", "production")
    await page.click("form[aria-labelledby=h-keys] button[type=submit]")
    await page.wait_for_selector("#new-key")
    key = await page.text("#new-key")
    assert re.fullmatch(r"evcs_\w{40,}", key), key
    assert "shown this once" in await page.text(".secret")
    # the key works: the partner's API answers it
    async with httpx.AsyncClient() as http:
        resp = await http.get(f"{console.url}/api/v1/chargers", headers={"x-api-key": key})
        assert resp.status_code == 200
    await page.wait_for(f"document.body.innerText.includes('{key[:9]}')")
    await shoot(page, "partner")

    await page.click(".secret button:last-of-type")  # Done
    await page.wait_for("!document.querySelector('#new-key')")
    assert key not in await page.evaluate("document.body.innerHTML")
    await page.reload()
    await page.wait_for("document.querySelector('tr[data-key]')")
    html = await page.evaluate("document.documentElement.outerHTML")
    assert key not in html and key[:12] in html  # only its prefix, ever again
    # and the gateway kept only its hash
    row = await console.pool.fetchrow("SELECT * FROM api_keys WHERE partner_id = $1", partner_id)
    assert key not in repr(dict(row))


async def test_a_sign_out_the_gateway_could_not_do_says_so_and_stays_signed_in(
    page: Page, console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shared terminal: "signed out" shown over a session still valid would let the next
    person reload into it."""
    await sign_in(page, console, "carol")

    async def redis_down(self: sessions.Sessions, session_id: str) -> bool:
        raise redis.ConnectionError("Connection refused")

    monkeypatch.setattr(sessions.Sessions, "end", redis_down)
    await page.click("#sign-out")
    await page.wait_for("document.getElementById('toast').textContent.includes('Not signed out')")
    assert not await page.evaluate("!!document.querySelector('input[name=token]')")
    monkeypatch.undo()
    await page.click("#sign-out")
    await page.wait_for_selector("input[name=token]")
    assert "signed out" in await page.text("main")


async def test_signing_out_ends_the_session(page: Page, console: Console) -> None:
    await sign_in(page, console, "bob")
    [cookie] = await page.cookies()
    await page.click("#sign-out")
    await page.wait_for_selector("input[name=token]")
    assert "signed out" in await page.text("main")
    assert await page.cookies() == []
    # the session is over on the gateway, not only forgotten by the browser
    async with httpx.AsyncClient() as http:
        resp = await http.get(
            f"{console.url}/api/v1/admin/session",
            headers={"Cookie": f"{sessions.COOKIE}={cookie['value']}"},
        )
        assert resp.status_code == 401
    # a reload stays signed out
    await page.reload()
    await page.wait_for_selector("input[name=token]")
    entries = await console.pool.fetch(
        "SELECT action FROM audit_log WHERE actor = 'console:bob' ORDER BY id DESC LIMIT 1"
    )
    assert [e["action"] for e in entries] == ["console.sign_out"]


async def test_the_other_pages_render_on_a_desktop_and_a_tablet(
    page: Page, console: Console
) -> None:
    await sign_in(page, console)
    pages = {
        "tokens": "Tokens",
        "audit": "Audit log",
        "system": "System",
        "partners/demo": "Partner demo",
    }
    for path, title in pages.items():
        await page.goto(f"{console.console_url}#/{path}")
        await page.wait_for(
            f"document.querySelector('h1')?.innerText === {json.dumps(title)}"
            " && !document.querySelector('main .loading')",
            what=title,
        )
        assert await page.evaluate(UNLABELLED) == [], path
        if path == "system":
            await page.wait_for("document.querySelector('#check-redis')?.innerText === 'ok'")
            assert console.settings.node_id in await page.text("main")
        if path == "audit":
            assert "console.sign_in" in await page.text("main")
        if path == "tokens":
            # register a card, then block it: the list shows it as the token store has it
            token = f"CARD-{datetime.now(UTC):%H%M%S%f}"
            await page.type("form[role=search] input[name=partner]", "demo")
            await _filtered(
                page,
                "location.hash.includes('partner=demo') && !document.querySelector('main .loading')",
            )
            await page.type("input[name=id]", token)
            await page.type("form[aria-labelledby=h-new-token] input[name=partnerId]", "demo")
            await page.click("form[aria-labelledby=h-new-token] button[type=submit]")
            row = f"tr[data-token='{token}']"
            await page.wait_for_selector(row)
            await page.click(f"{row} button")
            await page.wait_for(
                f"document.querySelector(\"{row} td:nth-child(2)\")?.innerText === 'Blocked'"
            )
            status = await console.pool.fetchval("SELECT status FROM tokens WHERE id = $1", token)
            assert status == "Blocked"
        if "/" not in path:
            await shoot(page, path, max_height=900)
    # a tablet: the pages fit its width (wide tables scroll in their own box)
    await page.resize(768, 1024)
    for path in ("fleet?q=DEMO", "chargers/DEMO-201-1", "partners", "system"):
        await page.goto(f"{console.console_url}#/{path}")
        await page.wait_for(
            "document.querySelector('h1') && !document.querySelector('main .loading')"
        )
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, (path, overflow)
    # and from the keyboard: back from the page's heading to the sections, Enter follows one
    await page.resize(1280, 860)
    await page.goto(f"{console.console_url}#/system")
    await page.wait_for(
        "document.activeElement?.innerText === 'System'", what="the heading focused"
    )
    reached = []
    for _ in range(10):
        await page.press("Tab", shift=True)
        reached.append(await page.evaluate("document.activeElement.innerText"))
        if reached[-1] == "Tokens":
            break
    assert reached[-2:] == ["Audit log", "Tokens"], reached
    await page.press("Enter")
    await page.wait_for("document.querySelector('h1')?.innerText === 'Tokens'")
