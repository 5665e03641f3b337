// Every operation of the OpenAPI document is reachable from the JS client: each call is
// answered with the document's own example for its operation.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { EVChargingAdmin, EVChargingClient } from "../dist/index.js";

const document = JSON.parse(readFileSync(new URL("../../openapi.json", import.meta.url), "utf8"));
const operations = [];
for (const [path, ops] of Object.entries(document.paths)) {
  const pattern = new RegExp(`^${path.replace(/\{[^}]+\}/g, "[^/]+")}$`);
  for (const [method, operation] of Object.entries(ops)) {
    operations.push({ method: method.toUpperCase(), pattern, operation });
  }
}

function exampleFetch(reached) {
  return async (url, init) => {
    const { pathname, searchParams } = new URL(url);
    const found = operations.find((o) => o.method === init.method && o.pattern.test(pathname));
    assert.ok(found, `no operation for ${init.method} ${pathname}`);
    reached.add(found.operation.operationId);
    const status = Object.keys(found.operation.responses).filter((s) => s.startsWith("2")).sort()[0];
    const [[media, content]] = Object.entries(found.operation.responses[status].content);
    if (media === "text/event-stream") {
      return new Response(content.example, { status: Number(status), headers: { "content-type": media } });
    }
    let body = content.example;
    if (body && typeof body === "object" && "nextCursor" in body) {
      // the first page leads on; the page its cursor asks for is the last
      body = { ...body, nextCursor: searchParams.has("cursor") ? null : "Q1AtMDAwMQ" };
    }
    return new Response(JSON.stringify(body), { status: Number(status), headers: { "content-type": "application/json" } });
  };
}

async function drain(result) {
  if (result && typeof result.then === "function") return [await result];
  const items = [];
  for await (const item of result) items.push(item);
  return items;
}

test("every operation is reachable from the client", async () => {
  const reached = new Set();
  const fetch = exampleFetch(reached);
  const c = new EVChargingClient("evcs_k", { baseUrl: "http://gw", fetch });
  const a = new EVChargingAdmin("token", { baseUrl: "http://gw", fetch, actor: "alice" });
  const t0 = new Date("2026-03-01T00:00:00Z");
  const many = Array.from({ length: 300 }, (_, n) => `CP-${String(n).padStart(4, "0")}`);
  const calls = [
    c.health(),
    c.ready(),
    c.listChargers({ status: ["CHARGING"], pageSize: 10 }),
    c.getChargerStatus("CP-0001"),
    c.batchStatus(["CP-0001", "CP-9999"]),
    c.batchStatus(many),
    c.control("CP-0001", "on", { connectorId: 1, idTag: "TAG" }),
    c.setStatus("CP-0001", "INOPERATIVE"),
    c.unlockConnector("CP-0001", 1, { evseConnectorId: 1 }),
    c.reset("CP-0001", "Hard"),
    c.batchControl(["CP-0001", "CP-0002"], "off"),
    c.getCommand("cmd_5f2b9c0a1d3e4f60"),
    c.meterValues("CP-0001", { from: t0, measurand: "Power.Active.Import" }),
    c.sessions("CP-0001", { from: t0, to: t0 }),
    c.putToken("04A2B3C4", { status: "Accepted", groupId: "FLEET-7" }),
    c.getToken("04A2B3C4"),
    c.updateToken("04A2B3C4", { status: "Blocked", expiresAt: null }),
    c.listTokens({ status: "Blocked" }),
    c.tokenSessions("04A2B3C4", { from: t0 }),
    a.createSession({ actor: "alice" }),
    a.getSession(),
    a.endSession(),
    a.createPartner({ name: "ACME", id: "acme", chargerQuota: 10 }),
    a.listPartners({ status: "active" }),
    a.getPartner("acme"),
    a.updatePartner("acme", { rateLimitMinute: null }),
    a.suspendPartner("acme"),
    a.reactivatePartner("acme"),
    a.deletePartner("acme"),
    a.issueKey("acme", { name: "production" }),
    a.listPartnerKeys("acme"),
    a.findKeys("evcs_4kT9"),
    a.rotateKey("key_8c1d2e3f4a5b6c7d", { overlapSeconds: 60 }),
    a.revokeKey("key_8c1d2e3f4a5b6c7d"),
    a.registerCharger({ chargerId: "CP-0001", protocol: "ocpp1.6", partnerId: "acme" }),
    a.listChargers({ partnerId: "acme", includeRemoved: true }),
    a.listChargers({ search: "CP-", status: ["CHARGING"], online: true }),
    a.statusEvents("CP-0001", { from: t0 }),
    a.meterValues("CP-0001", { from: t0, bucketSeconds: 60 }),
    a.sessions("CP-0001", { to: t0 }),
    a.chargerCommands("CP-0001", { pageSize: 10 }),
    a.system(),
    a.getCharger("CP-0001"),
    a.decommissionCharger("CP-0001"),
    a.assignCharger("CP-0001", "acme"),
    a.unassignCharger("CP-0001"),
    a.setChargerPassword("CP-0001"),
    a.sendCommand("CP-0001", "Reset", { type: "Soft" }),
    a.getCommand("cmd_5f2b9c0a1d3e4f60"),
    a.sendLocalList("CP-0001", { updateType: "Full" }),
    a.getLocalList("CP-0001"),
    a.createToken({ id: "04A2B3C4", status: "Accepted", partnerId: "acme" }),
    a.listTokens({ partnerId: "acme", status: "Accepted" }),
    a.getToken("04A2B3C4"),
    a.updateToken("04A2B3C4", { status: "Blocked", partnerId: null }),
    a.deleteToken("04A2B3C4"),
    a.auditLog({ actor: "admin:alice", from: t0 }),
  ];
  for (const call of calls) {
    const items = await drain(call);
    assert.ok(items.length > 0 && items.every((item) => item && typeof item === "object"));
  }
  const stream = c.events({ types: ["status"] });
  const first = await stream.next();
  stream.close();
  assert.equal(first.type, "status");
  assert.equal(first.id, "1767225600000-0");
  assert.equal(first.data.status, "CHARGING");
  const feed = a.events({ types: ["status"], chargerIds: ["CP-0001"] });
  const seen = await feed.next();
  feed.close();
  assert.equal(seen.type, "status");

  const all = new Set(operations.map((o) => o.operation.operationId));
  assert.deepEqual([...all].filter((id) => !reached.has(id)), []);
});
