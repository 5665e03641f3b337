/**
 * The fleet: every charger a page at a time, filtered and paginated by the gateway (never the
 * whole fleet in the page), each row kept live from the event feed of the chargers it shows.
 */
import { follow, get, seg } from "./api.js";
import { badge, field, fill, h, link, orDash, select, table, when } from "./dom.js";

export const PAGE_SIZE = 50;
const STATUSES = ["AVAILABLE", "CHARGING", "BLOCKED", "RESERVED", "INOPERATIVE", "REMOVED", "UNKNOWN"];

function connectors(charger) {
  if (!charger.connectors.length) return h("span", { class: "muted" }, "—");
  return h(
    "ul",
    { class: "chips" },
    charger.connectors.map((c) =>
      h("li", { title: `partner status ${c.status}` }, `${c.connectorId}: ${c.ocppStatus}`),
    ),
  );
}

function row(charger) {
  return h(
    "tr",
    { dataset: { charger: charger.chargerId } },
    h("td", {}, h("a", { href: `#/chargers/${seg(charger.chargerId)}` }, charger.chargerId)),
    h("td", {}, badge(charger.status)),
    h("td", {}, link(charger.online)),
    h("td", {}, connectors(charger)),
    h(
      "td",
      {},
      charger.partnerId
        ? h("a", { href: `#/partners/${seg(charger.partnerId)}` }, charger.partnerId)
        : h("span", { class: "muted" }, "none"),
    ),
    h("td", {}, orDash(charger.node)),
    h("td", {}, when(charger.lastSeen)),
    h("td", {}, orDash(charger.protocol)),
    h("td", {}, orDash(charger.firmwareVersion)),
  );
}

function filters(page) {
  const q = page.query;
  const search = h("input", { type: "search", name: "q", value: q.get("q") ?? "", maxlength: "48" });
  const status = select("status", [["", "Any"], ...STATUSES], q.get("status"));
  const partner = h("input", {
    type: "text",
    name: "partner",
    value: q.get("partner") ?? "",
    list: "partner-ids",
    autocomplete: "off",
  });
  const online = select("online", [["", "Any"], ["true", "Online"], ["false", "Offline"]], q.get("online"));
  const partnerIds = h("datalist", { id: "partner-ids" });
  get("/partners", { limit: 500 })
    .then((found) => fill(partnerIds, found.partners.map((p) => h("option", { value: p.id }, p.name))))
    .catch(() => undefined); // only suggestions
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter the fleet" },
    field("Charger id contains", search),
    field("Status", status),
    field("Partner", partner),
    field("Connection", online),
    partnerIds,
    h("button", { type: "submit" }, "Apply"),
    h("button", { type: "reset", class: "quiet" }, "Clear"),
  );
  const apply = () =>
    page.navigate("/fleet", {
      q: search.value.trim(),
      status: status.value,
      partner: partner.value.trim(),
      online: online.value,
    });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    apply();
  });
  form.addEventListener("reset", (event) => {
    event.preventDefault();
    page.navigate("/fleet");
  });
  for (const control of [status, online]) control.addEventListener("change", apply);
  return form;
}

export async function render(page) {
  const q = page.query;
  const cursor = q.get("cursor") ?? undefined;
  const summary = h("p", { class: "muted", role: "status" }, "Loading…");
  const body = h("div", {}, h("p", { class: "loading" }, "Loading the fleet…"));
  page.main.append(
    h("h1", {}, "Fleet"),
    h("section", { class: "panel", "aria-label": "Filters" }, filters(page)),
    h("section", { class: "panel", "aria-labelledby": "fleet-table" }, h("h2", { id: "fleet-table", class: "visually-hidden" }, "Chargers"), summary, body),
  );
  const filtered = Boolean(q.get("status") || q.get("online"));
  const found = await get("/chargers", {
    q: q.get("q"),
    status: q.get("status"),
    partnerId: q.get("partner"),
    online: q.get("online"),
    limit: PAGE_SIZE,
    cursor,
  });
  if (!page.current()) return;

  const rows = new Map(found.chargers.map((charger) => [charger.chargerId, row(charger)]));
  const pager = h("div", { class: "pager" });
  if (cursor) {
    pager.append(
      h("button", { type: "button", class: "quiet", onclick: () => page.navigate("/fleet", { ...Object.fromEntries(q), cursor: "" }) }, "First page"),
    );
  }
  if (found.nextCursor) {
    pager.append(
      h("button", { type: "button", onclick: () => page.navigate("/fleet", { ...Object.fromEntries(q), cursor: found.nextCursor }) }, "Next page"),
    );
  }
  const count = found.chargers.length;
  summary.textContent =
    count === 0
      ? found.nextCursor
        ? "No match among the chargers looked at so far; more may match further on."
        : "No charger matches."
      : `${count} charger${count === 1 ? "" : "s"} on this page${found.nextCursor ? "; more on the next" : ""}.` +
        (filtered && found.nextCursor && count < PAGE_SIZE
          ? " (A filtered page stops after looking at 10,000 chargers.)"
          : "");
  fill(
    body,
    count
      ? table(
          "Live: rows change as chargers report.",
          ["Charger", "Status", "Connection", "Connectors (OCPP status)", "Partner", "Node", "Last seen", "Protocol", "Firmware"],
          [...rows.values()],
        )
      : null,
    pager,
  );
  if (!count) return;

  // Live: an event for a charger shown re-reads its row (the gateway computes its status).
  const due = new Map();
  const refresh = (chargerId) => {
    if (!rows.has(chargerId) || due.has(chargerId)) return;
    due.set(
      chargerId,
      setTimeout(async () => {
        due.delete(chargerId);
        try {
          const fresh = await get(`/chargers/${seg(chargerId)}`);
          if (!page.current()) return;
          const next = row(fresh);
          next.classList.add("changed");
          rows.get(chargerId).replaceWith(next);
          rows.set(chargerId, next);
        } catch {
          // the next event tries again
        }
      }, 150),
    );
  };
  const stop = follow([...rows.keys()], {
    status: (event) => refresh(event.chargerId),
    connection: (event) => refresh(event.chargerId),
  });
  page.onLeave(() => {
    stop();
    for (const timer of due.values()) clearTimeout(timer);
  });
}
