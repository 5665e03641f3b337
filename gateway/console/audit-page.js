/** The audit log, newest first: who did what to what, filtered by actor, action, target, time. */
import { get } from "./api.js";
import { field, fill, h, isoFromLocal, orDash, table, when } from "./dom.js";

function localValue(iso) {
  if (!iso) return "";
  const at = new Date(iso);
  return new Date(at.getTime() - at.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

export async function render(page) {
  const q = page.query;
  const input = (name, attrs = {}) => h("input", { name, value: q.get(name) ?? "", ...attrs });
  const actor = input("actor", { placeholder: "console:alice", maxlength: "128" });
  const action = input("action", { placeholder: "api_key.", maxlength: "64", pattern: "[a-z_.]*" });
  const target = input("target", { placeholder: "acme or CP-0001", maxlength: "48" });
  const from = h("input", { type: "datetime-local", name: "from", value: localValue(q.get("from")) });
  const to = h("input", { type: "datetime-local", name: "to", value: localValue(q.get("to")) });
  const filters = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter the audit log" },
    field("Actor", actor),
    field("Action (or its start)", action),
    field("Target", target),
    field("From", from),
    field("To", to),
    h("button", { type: "submit" }, "Apply"),
    h("button", { type: "reset", class: "quiet" }, "Clear"),
  );
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    page.navigate("/audit", {
      actor: actor.value.trim(),
      action: action.value.trim(),
      target: target.value.trim(),
      from: isoFromLocal(from.value),
      to: isoFromLocal(to.value),
    });
  });
  filters.addEventListener("reset", (event) => {
    event.preventDefault();
    page.navigate("/audit");
  });
  const list = h("div", {}, h("p", { class: "loading" }, "Loading…"));
  page.main.append(
    h("h1", {}, "Audit log"),
    h("section", { class: "panel", "aria-label": "Filters" }, filters),
    h("section", { class: "panel", "aria-label": "Entries" }, list),
  );
  const query = Object.fromEntries(["actor", "action", "target", "from", "to", "cursor"].map((n) => [n, q.get(n) ?? undefined]));
  const found = await get("/audit", { ...query, limit: 100 });
  if (!page.current()) return;
  const rows = found.entries.map((e) =>
    h(
      "tr",
      {},
      h("td", {}, when(e.at)),
      h("td", {}, e.actor),
      h("td", {}, h("code", {}, e.action)),
      h("td", {}, orDash(e.target)),
      h("td", {}, e.details === null ? "—" : h("code", {}, JSON.stringify(e.details))),
    ),
  );
  fill(
    list,
    rows.length ? table("Newest first", ["When", "Actor", "Action", "Target", "Details"], rows) : h("p", { class: "muted" }, "No entry matches."),
    found.nextCursor
      ? h("div", { class: "pager" }, h("button", { type: "button", onclick: () => page.navigate("/audit", { ...query, cursor: found.nextCursor }) }, "Older entries"))
      : null,
  );
}
