/**
 * Partners and their API keys: create partners, set quotas and rate limits, suspend and
 * reactivate; issue, rotate and revoke keys. A new key is shown once, here, and never again.
 */
import { ApiError, del, get, patch, post, seg } from "./api.js";
import { announce, field, fill, h, isoFromLocal, orDash, safely, select, table, when } from "./dom.js";

function number(name, value, attrs = {}) {
  return h("input", { type: "number", name, min: "0", step: "1", inputmode: "numeric", value: value ?? "", ...attrs });
}

/** A form whose submit runs `action`, showing what went wrong in the form itself. */
function form(controls, button, action, attrs = {}) {
  const problem = h("p", { class: "error", role: "alert" });
  const submit = h("button", { type: "submit" }, button);
  const f = h("form", { class: "inline", ...attrs }, controls, submit, problem);
  f.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.textContent = "";
    submit.disabled = true;
    try {
      await action(new FormData(f), f);
    } catch (error) {
      problem.textContent = error instanceof ApiError ? error.message : String(error);
    } finally {
      submit.disabled = false;
    }
  });
  return f;
}

const intOrNull = (value) => (value === "" || value === null ? null : Number(value));

// the list ---------------------------------------------------------------------------------

export async function renderList(page) {
  const status = page.query.get("status") ?? "";
  const cursor = page.query.get("cursor") ?? undefined;
  const list = h("div", {}, h("p", { class: "loading" }, "Loading…"));
  const create = form(
    [
      field("Name", h("input", { name: "name", required: true, maxlength: "200" })),
      field("Id", h("input", { name: "id", pattern: "[a-z0-9][a-z0-9_\\-]{0,47}", maxlength: "48" }), { hint: "Optional; generated if left out" }),
      field("Charger quota", number("quota")),
      field("Requests a minute", number("minute", null, { min: "1" })),
      field("Requests an hour", number("hour", null, { min: "1" })),
    ],
    "Create partner",
    async (data) => {
      const body = { name: String(data.get("name")).trim() };
      if (data.get("id")) body.id = String(data.get("id")).trim();
      if (data.get("quota") !== "") body.chargerQuota = Number(data.get("quota"));
      if (data.get("minute") !== "") body.rateLimitMinute = Number(data.get("minute"));
      if (data.get("hour") !== "") body.rateLimitHour = Number(data.get("hour"));
      const created = await post("/partners", body);
      announce(`Partner ${created.id} created.`);
      page.navigate(`/partners/${seg(created.id)}`);
    },
    { "aria-labelledby": "h-create" },
  );
  const filter = select("status", [["", "Any"], ["active", "Active"], ["suspended", "Suspended"]], status);
  filter.addEventListener("change", () => page.navigate("/partners", { status: filter.value }));
  page.main.append(
    h("h1", {}, "Partners and keys"),
    h("section", { class: "panel" }, h("h2", { id: "h-create" }, "New partner"), create),
    h(
      "section",
      { class: "panel", "aria-labelledby": "h-partners" },
      h("h2", { id: "h-partners" }, "Partners"),
      h("div", { class: "filters" }, field("Status", filter)),
      list,
    ),
  );
  const found = await get("/partners", { status, limit: 50, cursor });
  if (!page.current()) return;
  const rows = found.partners.map((p) =>
    h(
      "tr",
      {},
      h("td", {}, h("a", { href: `#/partners/${seg(p.id)}` }, p.id)),
      h("td", {}, p.name),
      h("td", {}, p.status === "active" ? "Active" : h("span", { class: "error" }, "Suspended")),
      h("td", { class: "num" }, `${p.chargers}${p.chargerQuota === null ? "" : ` of ${p.chargerQuota}`}`),
      h("td", { class: "num" }, `${p.effectiveRateLimits.perMinute}/min, ${p.effectiveRateLimits.perHour}/h`),
      h("td", {}, when(p.createdAt)),
    ),
  );
  fill(
    list,
    rows.length ? table(null, ["Id", "Name", "Status", "Chargers", "Rate limits", "Created"], rows) : h("p", { class: "muted" }, "No partner yet."),
    found.nextCursor
      ? h("div", { class: "pager" }, h("button", { type: "button", onclick: () => page.navigate("/partners", { status, cursor: found.nextCursor }) }, "Next page"))
      : null,
  );
}

// one partner ------------------------------------------------------------------------------

/** The key just issued: shown this once, to copy now. */
function secret(issued, done) {
  const code = h("code", { id: "new-key" }, issued.key);
  const copy = h("button", { type: "button", class: "quiet" }, "Copy");
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(issued.key);
      announce("Key copied.");
    } catch {
      announce("Copying is not allowed here: select the key and copy it.");
    }
  });
  const box = h(
    "div",
    { class: "secret", role: "alert", tabindex: "-1" },
    h("strong", {}, `New key ${issued.apiKey.prefix}… for ${issued.apiKey.partnerId}`),
    h("p", {}, "Copy it now and hand it over securely: it is shown this once. Only its hash is kept."),
    code,
    copy,
    " ",
    h("button", { type: "button", onclick: done }, "Done: I have it"),
  );
  return box;
}

function keyRow(key, actions) {
  const live = key.state === "active" || key.state === "rotating";
  return h(
    "tr",
    { dataset: { key: key.id } },
    h("td", {}, h("code", {}, `${key.prefix}…`)),
    h("td", {}, orDash(key.name)),
    h("td", {}, key.state),
    h("td", {}, when(key.createdAt)),
    h("td", {}, key.expiresAt ? when(key.expiresAt) : "never"),
    h(
      "td",
      {},
      live
        ? [
            h("button", { type: "button", class: "quiet", onclick: safely(() => actions.rotate(key)) }, "Rotate"),
            " ",
            h("button", { type: "button", class: "danger", onclick: safely(() => actions.revoke(key)) }, "Revoke"),
          ]
        : h("span", { class: "muted" }, "—"),
    ),
  );
}

export async function renderOne(page, partnerId) {
  const path = `/partners/${seg(partnerId)}`;
  let partner = await get(path);
  if (!page.current()) return;
  const facts = h("div", {});
  const keys = h("div", {});
  const shown = h("div", {}); // where a new key appears, once
  const heading = h("h1", {}, `Partner ${partner.id}`);

  const draw = () => {
    const suspended = partner.status === "suspended";
    fill(
      facts,
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Name"),
        h("dd", {}, partner.name),
        h("dt", {}, "Status"),
        h("dd", { id: "partner-status" }, suspended ? h("span", { class: "error" }, "Suspended: every key gets 403") : "Active"),
        h("dt", {}, "Chargers"),
        h("dd", {}, h("a", { href: `#/fleet?partner=${seg(partner.id)}` }, `${partner.chargers} assigned`)),
        h("dt", {}, "Created"),
        h("dd", {}, when(partner.createdAt)),
      ),
      form(
        [
          field("Name", h("input", { name: "name", required: true, value: partner.name, maxlength: "200" })),
          field("Charger quota", number("quota", partner.chargerQuota), { hint: "Empty: no cap" }),
          field("Requests a minute", number("minute", partner.rateLimitMinute, { min: "1" }), { hint: `Empty: the default (${partner.effectiveRateLimits.perMinute})` }),
          field("Requests an hour", number("hour", partner.rateLimitHour, { min: "1" }), { hint: "Empty: the default" }),
        ],
        "Save",
        async (data) => {
          partner = await patch(path, {
            name: String(data.get("name")).trim(),
            chargerQuota: intOrNull(data.get("quota")),
            rateLimitMinute: intOrNull(data.get("minute")),
            rateLimitHour: intOrNull(data.get("hour")),
          });
          announce("Saved: every gateway applies it at once.");
          draw();
        },
        { "aria-label": "Quota and rate limits" },
      ),
      h(
        "p",
        {},
        h(
          "button",
          {
            type: "button",
            class: suspended ? null : "danger",
            onclick: safely(async () => {
              if (!suspended && !window.confirm(`Suspend ${partner.id}? Every key of it gets 403 at once.`)) return;
              partner = await post(`${path}/${suspended ? "reactivate" : "suspend"}`);
              announce(suspended ? "Reactivated." : "Suspended.");
              draw();
            }),
          },
          suspended ? "Reactivate" : "Suspend",
        ),
      ),
    );
  };

  const loadKeys = async () => {
    const found = await get(`${path}/keys`);
    if (!page.current()) return;
    const actions = {
      rotate: async (key) => {
        const hours = window.prompt(`Rotate ${key.prefix}…: for how many hours may the old key keep working?`, "24");
        if (hours === null) return;
        const issued = await post(`/keys/${seg(key.id)}/rotate`, { overlapSeconds: Math.round(Number(hours) * 3600) });
        reveal(issued);
        loadKeys();
      },
      revoke: async (key) => {
        if (!window.confirm(`Revoke ${key.prefix}…? It gets 401 on every gateway at once.`)) return;
        await post(`/keys/${seg(key.id)}/revoke`);
        announce(`Key ${key.prefix}… revoked.`);
        loadKeys();
      },
    };
    fill(
      keys,
      found.keys.length
        ? table(null, ["Key", "Name", "State", "Created", "Expires", ""], found.keys.map((k) => keyRow(k, actions)))
        : h("p", { class: "muted" }, "No key yet."),
    );
  };
  const reveal = (issued) => {
    const box = secret(issued, () => {
      fill(shown);
      heading.focus();
    });
    fill(shown, box);
    box.focus();
  };

  const issue = form(
    [
      field("Label", h("input", { name: "name", maxlength: "100" }), { hint: "Optional, e.g. production" }),
      field("Expires", h("input", { name: "expires", type: "datetime-local" }), { hint: "Optional" }),
    ],
    "Issue key",
    async (data, f) => {
      const body = {};
      if (data.get("name")) body.name = String(data.get("name")).trim();
      if (data.get("expires")) body.expiresAt = isoFromLocal(String(data.get("expires")));
      const issued = await post(`${path}/keys`, body);
      f.reset();
      reveal(issued);
      loadKeys();
    },
    { "aria-labelledby": "h-keys" },
  );

  page.main.append(
    heading,
    h("section", { class: "panel", "aria-label": "Partner" }, facts),
    h("section", { class: "panel", "aria-labelledby": "h-keys" }, h("h2", { id: "h-keys" }, "API keys"), issue, shown, keys),
    h(
      "section",
      { class: "panel", "aria-labelledby": "h-danger" },
      h("h2", { id: "h-danger" }, "Delete"),
      h("p", {}, "Deleting revokes every key and unassigns every charger of the partner."),
      h(
        "button",
        {
          type: "button",
          class: "danger",
          onclick: safely(async () => {
            if (!window.confirm(`Delete ${partner.id}? This cannot be undone.`)) return;
            await del(path);
            announce(`Partner ${partner.id} deleted.`);
            page.navigate("/partners");
          }),
        },
        "Delete partner",
      ),
    ),
  );
  draw();
  await loadKeys();
}
