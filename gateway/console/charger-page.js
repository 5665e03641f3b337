/**
 * One charger: its live state and connectors, the running session, a meter chart, recent
 * status changes and commands, and buttons that send OCPP messages through the operator
 * command API. The event feed of this charger keeps it all current without a reload.
 */
import { ApiError, follow, get, post, seg } from "./api.js";
import { lineChart } from "./chart.js";
import { announce, badge, field, fill, h, kw, kwh, link, orDash, select, table, when } from "./dom.js";
import * as ocpp from "./ocpp.js";

const WINDOWS = [
  [1, "Last hour"],
  [3, "Last 3 hours"],
  [12, "Last 12 hours"],
  [24, "Last 24 hours"],
];
const ENERGY = "Energy.Active.Import.Register";
const POWER = "Power.Active.Import";
const RECENT = 20;

function facts(charger) {
  const row = (term, value) => [h("dt", {}, term), h("dd", {}, value)];
  return h(
    "dl",
    { class: "facts" },
    row("Status", h("span", { id: "charger-status" }, badge(charger.status, true))),
    row("Connection", link(charger.online)),
    row("Node", orDash(charger.node)),
    row("Last seen", when(charger.lastSeen)),
    row(
      "Partner",
      charger.partnerId ? h("a", { href: `#/partners/${seg(charger.partnerId)}` }, charger.partnerId) : "none",
    ),
    row("Protocol", orDash(charger.protocol)),
    charger.vendor || charger.model ? row("Vendor, model", [charger.vendor, charger.model].filter(Boolean).join(", ")) : null,
    row("Firmware", orDash(charger.firmwareVersion)),
    row("Meter", kwh(charger.meterKwh)),
    charger.removedAt ? row("Decommissioned", when(charger.removedAt)) : null,
  );
}

function connectorTable(charger) {
  if (!charger.connectors.length) return h("p", { class: "muted" }, "No connector has reported yet.");
  return table(
    null,
    ["Connector", "OCPP status", "Status", "Session"],
    charger.connectors.map((c) =>
      h(
        "tr",
        { dataset: { connector: c.connectorId } },
        h("td", { class: "num" }, c.connectorId),
        h("td", {}, h("code", {}, c.ocppStatus)),
        h("td", {}, badge(c.status)),
        h("td", {}, orDash(c.transactionId)),
      ),
    ),
  );
}

// commands ---------------------------------------------------------------------------------

function connectorChoices(charger, withWhole) {
  const ids = charger.connectors.map((c) => c.connectorId);
  const choices = (ids.length ? ids : [1]).map((id) => [id, `${id}`]);
  return withWhole ? [[0, "0: the whole charger"], ...choices] : choices;
}

/** The action forms; each sends its message and shows the outcome in `out`. */
function actionForms(ctx) {
  const { charger, send } = ctx;
  const protocol = charger.protocol;
  if (!protocol) {
    return h("p", { class: "muted" }, "The charger has never connected: its OCPP version is unknown.");
  }
  const form = (legend, controls, button, build, { danger = false, wide = false } = {}) => {
    const submit = h("button", { type: "submit", class: danger ? "danger" : null }, button);
    const f = h("form", {}, controls, submit);
    f.addEventListener("submit", async (event) => {
      event.preventDefault();
      const message = build(new FormData(f));
      if (!message) return;
      submit.disabled = true;
      try {
        await send(legend, message);
      } finally {
        submit.disabled = false;
      }
    });
    return h("fieldset", { class: wide ? "wide" : null }, h("legend", {}, legend), f);
  };
  const running = charger.connectors.filter((c) => c.transactionId);
  const num = (data, name) => Number(data.get(name));
  return h(
    "div",
    { class: "actions" },
    form(
      "Start charging",
      [
        field("Connector", select("connector", connectorChoices(charger, false))),
        field("Token (idTag)", h("input", { name: "idTag", required: true, maxlength: "20", autocomplete: "off", spellcheck: "false" })),
      ],
      "Start",
      (d) => ocpp.start(protocol, num(d, "connector"), String(d.get("idTag")).trim()),
    ),
    form(
      "Stop charging",
      running.length
        ? field("Session", select("tx", running.map((c) => [c.transactionId, `${c.transactionId} on ${c.connectorId}`])))
        : h("p", { class: "muted" }, "No session is running."),
      "Stop",
      (d) => (d.get("tx") ? ocpp.stop(protocol, d.get("tx")) : null),
    ),
    form(
      "Reset",
      field("Kind", select("type", ocpp.RESET_TYPES[protocol] ?? [])),
      "Reset",
      (d) => ocpp.reset(protocol, String(d.get("type"))),
      { danger: true },
    ),
    form(
      "Unlock connector",
      field("Connector", select("connector", connectorChoices(charger, false))),
      "Unlock",
      (d) => ocpp.unlock(protocol, num(d, "connector")),
    ),
    form(
      "Availability",
      [
        field("Connector", select("connector", connectorChoices(charger, true))),
        field("Make it", select("kind", [["Operative", "Operative"], ["Inoperative", "Inoperative"]])),
      ],
      "Change",
      (d) => ocpp.availability(protocol, num(d, "connector"), d.get("kind") === "Operative"),
    ),
    form(
      "Trigger a message",
      [
        field("Message", select("message", ocpp.TRIGGERS[protocol] ?? [])),
        field("Connector", select("connector", connectorChoices(charger, true))),
      ],
      "Trigger",
      (d) => ocpp.trigger(protocol, String(d.get("message")), num(d, "connector")),
    ),
    form(
      "Any OCPP message",
      [
        field("Action", h("input", { name: "action", required: true, placeholder: "GetConfiguration", spellcheck: "false" })),
        field("Params (JSON)", h("textarea", { name: "params", spellcheck: "false" }, "{}"), { wide: true }),
      ],
      "Send",
      (d) => {
        try {
          return { action: String(d.get("action")).trim(), params: JSON.parse(String(d.get("params")) || "{}") };
        } catch {
          announce("Params must be JSON.");
          return null;
        }
      },
      { wide: true },
    ),
  );
}

// history ----------------------------------------------------------------------------------

function statusRow(change) {
  return h(
    "tr",
    { dataset: { at: change.receivedAt } },
    h("td", {}, when(change.receivedAt)),
    h("td", { class: "num" }, change.connectorId),
    h("td", {}, h("code", {}, orDash(change.ocppStatus))),
    h("td", {}, badge(change.status)),
    h("td", {}, orDash(change.errorCode)),
  );
}

function commandRow(command) {
  const by = command.partnerId ? `partner:${command.partnerId}` : orDash(command.actor);
  const answer = command.chargerResponse?.status ?? command.message;
  const tone = command.state === "ACCEPTED" ? "ok" : command.state === "PENDING" ? "muted" : "error";
  return h(
    "tr",
    {},
    h("td", {}, when(command.createdAt)),
    h("td", {}, command.action),
    h("td", {}, by),
    h("td", {}, h("span", { class: tone }, command.state), answer ? h("div", { class: "hint" }, answer) : null),
  );
}

/** Meter values of the window averaged per bucket (a few hundred points at most). */
async function series(chargerId, hours) {
  const to = Date.now();
  const from = to - hours * 3600_000;
  const bucketSeconds = Math.max(10, Math.round((hours * 3600) / 180));
  const values = [];
  let cursor;
  for (let pages = 0; pages < 10; pages += 1) {
    const page = await get(`/chargers/${seg(chargerId)}/meter-values`, {
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      bucketSeconds,
      limit: 1000,
      cursor,
    });
    values.push(...page.meterValues);
    cursor = page.nextCursor;
    if (!cursor) break;
  }
  return { from, to, bucketSeconds, values };
}

function chartOf({ from, to, bucketSeconds, values }, hours) {
  const power = values.filter((v) => v.measurand === POWER && !v.phase);
  const shown = power.length ? power : values.filter((v) => v.measurand === ENERGY && !v.phase);
  if (!shown.length) return { figure: h("p", { class: "muted" }, "No meter values in this window."), latestPower: null };
  const byConnector = new Map();
  for (const v of shown) {
    if (!byConnector.has(v.connectorId)) byConnector.set(v.connectorId, []);
    const scale = power.length ? 1000 : v.unit === "Wh" ? 1000 : 1;
    byConnector.get(v.connectorId).push([Date.parse(v.receivedAt), v.value / scale]);
  }
  const lines = [...byConnector.entries()].map(([connector, points]) => ({ name: `Connector ${connector}`, points }));
  const unit = power.length ? "kW" : "kWh";
  const all = lines.flatMap((l) => l.points.map(([, value]) => value));
  const latest = lines.map((l) => l.points.at(-1)?.[1] ?? 0).reduce((a, b) => a + b, 0);
  const label = `${power.length ? "Power" : "Energy register"} over the last ${hours} h, per connector:`
    + ` latest ${latest.toFixed(2)} ${unit}, peak ${Math.max(...all).toFixed(2)} ${unit}.`;
  return {
    figure: lineChart({ series: lines, from, to, gap: bucketSeconds * 2500, unit, label }),
    latestPower: power.length ? latest * 1000 : null,
  };
}

// the page ---------------------------------------------------------------------------------

export async function render(page, chargerId) {
  const path = `/chargers/${seg(chargerId)}`;
  let charger = await get(path);
  if (!page.current()) return;

  const summary = h("div", {}, facts(charger));
  const connectors = h("div", {}, connectorTable(charger));
  const session = h("div", {}, h("p", { class: "loading" }, "Loading…"));
  const actions = h("div", {});
  const outcome = h("p", { class: "outcome", id: "command-outcome", role: "status", "aria-live": "polite" });
  const chartBox = h("div", {}, h("p", { class: "loading" }, "Loading…"));
  const windowChoice = select("hours", WINDOWS, 3);
  const loadingRow = (columns) => h("tr", {}, h("td", { colspan: columns, class: "loading" }, "Loading…"));
  const statusBody = h("tbody", {}, loadingRow("5"));
  const commandBody = h("tbody", {}, loadingRow("4"));
  let latestPower = null;
  let sessionRetry = null;
  let sessionTries = 0;

  page.main.append(
    h("h1", {}, "Charger ", h("code", {}, charger.chargerId)),
    h(
      "div",
      { class: "grid" },
      h("section", { class: "panel", "aria-labelledby": "h-state" }, h("h2", { id: "h-state" }, "State"), summary),
      h(
        "div",
        { class: "stack" },
        h("section", { class: "panel", "aria-labelledby": "h-connectors" }, h("h2", { id: "h-connectors" }, "Connectors"), connectors),
        h("section", { class: "panel", "aria-labelledby": "h-session" }, h("h2", { id: "h-session" }, "Current session"), session),
      ),
    ),
    h("section", { class: "panel", "aria-labelledby": "h-actions" }, h("h2", { id: "h-actions" }, "Commands"), actions, outcome),
    h(
      "section",
      { class: "panel", "aria-labelledby": "h-meter" },
      h("h2", { id: "h-meter" }, "Meter"),
      h("div", { class: "filters" }, field("Window", windowChoice)),
      chartBox,
    ),
    h(
      "div",
      { class: "grid" },
      h(
        "section",
        { class: "panel", "aria-labelledby": "h-status" },
        h("h2", { id: "h-status" }, "Recent status changes"),
        h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, h("tr", {}, ["When", "Connector", "OCPP status", "Status", "Error"].map((t) => h("th", { scope: "col" }, t)))), statusBody)),
      ),
      h(
        "section",
        { class: "panel", "aria-labelledby": "h-commands" },
        h("h2", { id: "h-commands" }, "Recent commands"),
        h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, h("tr", {}, ["When", "Action", "By", "Outcome"].map((t) => h("th", { scope: "col" }, t)))), commandBody)),
      ),
    ),
  );

  const send = async (what, message) => {
    outcome.className = "outcome";
    outcome.textContent = `${what}: sending ${message.action}…`;
    try {
      const result = await post(`${path}/commands`, message);
      outcome.className = `outcome ${result.outcome === "ACCEPTED" ? "ok" : "error"}`;
      outcome.textContent = `${what}: ${message.action} ${ocpp.answerText(result)}.`;
    } catch (error) {
      outcome.className = "outcome error";
      const detail = error instanceof ApiError && error.body.ocppError ? ` (${error.body.ocppError.code})` : "";
      outcome.textContent = `${what}: ${message.action} failed: ${error.message}${detail}.`;
    }
    loadCommands();
  };

  const showCharger = () => {
    fill(summary, facts(charger));
    fill(connectors, connectorTable(charger));
    fill(actions, actionForms({ charger, send }));
  };
  const loadCharger = async () => {
    const fresh = await get(path);
    if (!page.current()) return;
    const changed = JSON.stringify(fresh.connectors) !== JSON.stringify(charger.connectors)
      || fresh.protocol !== charger.protocol;
    charger = fresh;
    fill(summary, facts(charger));
    fill(connectors, connectorTable(charger));
    // redrawn only when their choices change: a half-typed form stays as it is
    if (changed) fill(actions, actionForms({ charger, send }));
  };
  const loadSession = async () => {
    const from = new Date(Date.now() - 7 * 86400_000).toISOString();
    const found = await get(`${path}/sessions`, { from, limit: 5 });
    if (!page.current()) return;
    const active = found.sessions.find((s) => s.active);
    clearTimeout(sessionRetry);
    if (!active && charger.connectors.some((c) => c.transactionId) && sessionTries < 30) {
      // the charger runs a session the history does not hold yet: the recorder is a moment
      // behind the live state, so ask again shortly
      sessionTries += 1;
      sessionRetry = setTimeout(quietly(loadSession), 1000);
    } else {
      sessionTries = 0;
    }
    if (!active) {
      const last = found.sessions[0];
      fill(session, h("p", { class: "muted" }, "No session is running."), last ? h("p", {}, "Last one: ", when(last.stoppedAt ?? last.startedAt), `, ${kwh((last.energyWh ?? 0) / 1000)}.`) : null);
      return;
    }
    const deliveredWh = charger.meterKwh !== null && active.meterStartWh !== null ? charger.meterKwh * 1000 - active.meterStartWh : null;
    const row = (term, value, id) => [h("dt", {}, term), h("dd", { id }, value)];
    fill(
      session,
      h(
        "dl",
        { class: "facts", id: "current-session" },
        row("Session", h("code", {}, active.transactionId)),
        row("Connector", orDash(active.connectorId)),
        row("Token", orDash(active.idTag)),
        row("Started", when(active.startedAt)),
        row("Energy", deliveredWh === null ? "—" : kwh(Math.max(0, deliveredWh) / 1000), "session-energy"),
        row("Power", latestPower === null ? "—" : `${kw(latestPower)} (the chart's last point)`, "session-power"),
      ),
    );
  };
  const loadChart = async () => {
    const hours = Number(windowChoice.value);
    const data = await series(chargerId, hours);
    if (!page.current()) return;
    const drawn = chartOf(data, hours);
    latestPower = drawn.latestPower;
    fill(chartBox, drawn.figure);
  };
  const loadStatus = async () => {
    const found = await get(`${path}/status-events`, { limit: RECENT });
    if (!page.current()) return;
    // changes that came live while this was read, and are newer than what the history holds
    const newest = found.statusEvents[0]?.receivedAt ?? "";
    const live = [...statusBody.querySelectorAll("tr.changed")].filter((row) => row.dataset.at > newest);
    fill(statusBody, found.statusEvents.length ? found.statusEvents.map(statusRow) : h("tr", {}, h("td", { colspan: "5", class: "muted" }, "None in the last 24 hours.")));
    if (live.length && statusBody.querySelector("td[colspan]")) statusBody.replaceChildren();
    statusBody.prepend(...live);
  };
  const loadCommands = async () => {
    const found = await get(`${path}/commands`, { limit: RECENT });
    if (!page.current()) return;
    fill(commandBody, found.commands.length ? found.commands.map(commandRow) : h("tr", {}, h("td", { colspan: "4", class: "muted" }, "No command yet.")));
  };
  const quietly = (load) => () => load().catch(() => undefined);

  showCharger();
  windowChoice.addEventListener("change", () =>
    quietly(loadCharger)().then(quietly(loadChart)).then(quietly(loadSession)),
  );

  // Live: this charger's events redraw what they change. Followed before the history is
  // read, so that nothing happening meanwhile is missed.
  let due = null;
  const soon = () => {
    if (due === null) {
      due = setTimeout(() => {
        due = null;
        loadCharger().then(loadSession).catch(() => undefined);
      }, 150);
    }
  };
  const stop = follow([charger.chargerId], {
    status: (event) => {
      const row = statusRow(event);
      row.classList.add("changed");
      statusBody.querySelector("td[colspan]:not(.loading)")?.parentElement.remove();
      statusBody.prepend(row);
      while (statusBody.children.length > RECENT) statusBody.lastElementChild.remove();
      soon();
    },
    connection: soon,
    session: soon,
    command: quietly(loadCommands),
  });
  // meter values come with no event: the meter, chart and session are read again now and then
  const timer = setInterval(() => {
    quietly(loadCharger)().then(quietly(loadChart)).then(quietly(loadSession));
  }, 15_000);
  page.onLeave(() => {
    stop();
    clearInterval(timer);
    clearTimeout(due);
    clearTimeout(sessionRetry);
  });

  await Promise.all([loadChart().then(loadSession), loadStatus(), loadCommands()]);
}
