/** The system: Redis and PostgreSQL as readiness sees them, csms nodes, recorder lag. */
import { get } from "./api.js";
import { fill, h, orDash, table, when } from "./dom.js";

const REFRESH_MS = 10_000;

function check(state) {
  return state === "ok" ? h("span", { class: "ok" }, "ok") : h("span", { class: "error" }, orDash(state));
}

function draw(box, system) {
  const c = system.chargers;
  const recorder = system.recorder;
  fill(
    box,
    h(
      "div",
      { class: "grid" },
      h(
        "section",
        { class: "panel", "aria-labelledby": "h-storage" },
        h("h2", { id: "h-storage" }, "Storage"),
        h(
          "dl",
          { class: "facts" },
          h("dt", {}, "Redis"),
          h("dd", { id: "check-redis" }, check(system.checks.redis)),
          h("dt", {}, "PostgreSQL"),
          h("dd", { id: "check-postgresql" }, check(system.checks.postgresql)),
          h("dt", {}, "This gateway"),
          h("dd", {}, system.draining ? h("span", { class: "error" }, "draining (shutting down)") : "serving"),
          h("dt", {}, "Chargers"),
          h("dd", {}, c ? `${c.online} online of ${c.registered} registered` : "—"),
        ),
      ),
      h(
        "section",
        { class: "panel", "aria-labelledby": "h-recorder" },
        h("h2", { id: "h-recorder" }, "Recorder"),
        recorder === null
          ? h("p", { class: "error" }, "Unknown: Redis does not answer.")
          : !recorder.started
            ? h("p", { class: "error" }, "No recorder has read the event stream yet.")
            : [
                h("p", {}, `Behind by ${recorder.lagSeconds.toFixed(1)} s (the oldest event not yet in PostgreSQL).`),
                table(
                  null,
                  ["Shard", "In the stream", "Being written", "Not yet read", "Lag"],
                  recorder.shards.map((s) =>
                    h(
                      "tr",
                      {},
                      h("td", { class: "num" }, s.shard),
                      h("td", { class: "num" }, s.length),
                      h("td", { class: "num" }, s.pending),
                      h("td", { class: "num" }, orDash(s.undelivered)),
                      h("td", { class: "num" }, `${s.lagSeconds.toFixed(1)} s`),
                    ),
                  ),
                ),
              ],
      ),
    ),
    h(
      "section",
      { class: "panel", "aria-labelledby": "h-nodes" },
      h("h2", { id: "h-nodes" }, "csms nodes"),
      system.nodes === null
        ? h("p", { class: "error" }, "Unknown: Redis does not answer.")
        : system.nodes.length
          ? table(
              c ? `Chargers counted ${new Date(c.countedAt).toLocaleTimeString()}` : null,
              ["Node", "State", "Keep-alive until", "Chargers"],
              system.nodes.map((n) =>
                h(
                  "tr",
                  {},
                  h("td", {}, h("code", {}, n.nodeId)),
                  h("td", {}, n.alive ? h("span", { class: "ok" }, "alive") : h("span", { class: "error" }, "gone")),
                  h("td", {}, when(n.aliveUntil)),
                  h("td", { class: "num" }, n.chargers),
                ),
              ),
            )
          : h("p", { class: "muted" }, "No csms node has announced itself in the last hour."),
    ),
  );
}

export async function render(page) {
  const updated = h("p", { class: "muted", "aria-live": "off" });
  const box = h("div", {}, h("p", { class: "loading" }, "Loading…"));
  page.main.append(h("h1", {}, "System"), updated, box);
  const load = async () => {
    const system = await get("/system");
    if (!page.current()) return;
    draw(box, system);
    updated.textContent = `Updated ${new Date().toLocaleTimeString()}; every ${REFRESH_MS / 1000} s.`;
  };
  await load();
  const timer = setInterval(() => load().catch(() => undefined), REFRESH_MS);
  page.onLeave(() => clearInterval(timer));
}
