/** Tokens (RFID idTags / idTokens): list and filter, register, block and unblock. */
import { ApiError, get, patch, post, seg } from "./api.js";
import { announce, field, fill, h, isoFromLocal, orDash, select, table, when } from "./dom.js";

const STATUSES = ["Accepted", "Blocked", "Expired"];
const TYPES = ["ISO14443", "ISO15693", "Central", "eMAID", "KeyCode", "Local", "MacAddress", "NoAuthorization"];

function row(token, reload) {
  const blocked = token.status === "Blocked";
  const toggle = h(
    "button",
    { type: "button", class: blocked ? "quiet" : "danger" },
    blocked ? "Unblock" : "Block",
  );
  toggle.addEventListener("click", async () => {
    toggle.disabled = true;
    try {
      await patch(`/tokens/${seg(token.id)}`, { status: blocked ? "Accepted" : "Blocked" });
      announce(`Token ${token.id} ${blocked ? "unblocked" : "blocked"}: every csms node answers so now.`);
      reload();
    } catch (error) {
      announce(`Could not change ${token.id}: ${error.message}`);
      toggle.disabled = false;
    }
  });
  return h(
    "tr",
    { dataset: { token: token.id } },
    h("td", {}, h("code", {}, token.id)),
    h("td", {}, token.effectiveStatus === token.status ? token.status : `${token.status} (${token.effectiveStatus})`),
    h("td", {}, token.type),
    h("td", {}, orDash(token.partnerId ?? "operator")),
    h("td", {}, orDash(token.groupId)),
    h("td", {}, token.expiresAt ? when(token.expiresAt) : "never"),
    h("td", {}, toggle),
  );
}

export async function render(page) {
  const q = page.query;
  const list = h("div", {}, h("p", { class: "loading" }, "Loading…"));
  const problem = h("p", { class: "error", role: "alert" });
  const create = h(
    "form",
    { class: "inline", "aria-labelledby": "h-new-token" },
    field("Token id", h("input", { name: "id", required: true, maxlength: "36", pattern: "[A-Za-z0-9._:*\\-]{1,36}", spellcheck: "false" })),
    field("Status", select("status", STATUSES, "Accepted")),
    field("Type", select("type", TYPES, "ISO14443")),
    field("Partner", h("input", { name: "partnerId", maxlength: "48" }), { hint: "Empty: the operator's own" }),
    field("Group", h("input", { name: "groupId", maxlength: "36" }), { hint: "Optional" }),
    field("Expires", h("input", { name: "expiresAt", type: "datetime-local" }), { hint: "Optional" }),
    h("button", { type: "submit" }, "Register token"),
    problem,
  );
  create.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.textContent = "";
    const data = new FormData(create);
    const body = { id: String(data.get("id")).trim(), status: data.get("status"), type: data.get("type") };
    for (const name of ["partnerId", "groupId"]) if (data.get(name)) body[name] = String(data.get(name)).trim();
    if (data.get("expiresAt")) body.expiresAt = isoFromLocal(String(data.get("expiresAt")));
    try {
      const token = await post("/tokens", body);
      announce(`Token ${token.id} registered.`);
      create.reset();
      load();
    } catch (error) {
      problem.textContent = error instanceof ApiError ? error.message : String(error);
    }
  });

  const partner = h("input", { name: "partner", value: q.get("partner") ?? "", maxlength: "48" });
  const status = select("status", [["", "Any"], ...STATUSES], q.get("status"));
  const filters = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter tokens" },
    field("Partner", partner),
    field("Status", status),
    h("button", { type: "submit" }, "Apply"),
  );
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    page.navigate("/tokens", { partner: partner.value.trim(), status: status.value });
  });

  page.main.append(
    h("h1", {}, "Tokens"),
    h("section", { class: "panel" }, h("h2", { id: "h-new-token" }, "Register a token"), create),
    h("section", { class: "panel", "aria-labelledby": "h-tokens" }, h("h2", { id: "h-tokens" }, "Tokens"), filters, list),
  );

  const load = async () => {
    const found = await get("/tokens", {
      partnerId: q.get("partner"),
      status: q.get("status"),
      limit: 100,
      cursor: q.get("cursor") ?? undefined,
    });
    if (!page.current()) return;
    fill(
      list,
      found.tokens.length
        ? table(null, ["Token", "Status", "Type", "Partner", "Group", "Expires", ""], found.tokens.map((t) => row(t, load)))
        : h("p", { class: "muted" }, "No token matches."),
      found.nextCursor
        ? h("div", { class: "pager" }, h("button", { type: "button", onclick: () => page.navigate("/tokens", { ...Object.fromEntries(q), cursor: found.nextCursor }) }, "Next page"))
        : null,
    );
  };
  await load();
}
