// The client against a real running gateway with simulated chargers. Started by
// tests/clients/test_js_client.py, which runs the system and passes it in EVCS_TEST_* variables.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ChargerOffline, EVChargingClient, NotFound, RateLimited } from "../dist/index.js";

const env = process.env;
const baseUrl = env.EVCS_TEST_BASE_URL;
const skip = baseUrl ? false : "needs a running gateway (run tests/clients/test_js_client.py)";
const client = () => new EVChargingClient(env.EVCS_TEST_API_KEY, { baseUrl });

async function eventually(probe, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const statusIs = (c, id, expected) =>
  eventually(async () => (await c.getChargerStatus(id)).status === expected);

test("status, on -> CHARGING, off -> AVAILABLE", { skip }, async () => {
  const c = client();
  const id = env.EVCS_TEST_CHARGER;
  await statusIs(c, id, "AVAILABLE");
  const charger = await c.getChargerStatus(id);
  assert.equal(charger.chargerId, id);
  assert.equal(charger.online, true);
  assert.deepEqual(charger.connectors.map((x) => x.status), ["AVAILABLE"]);

  const on = await c.control(id, "on");
  assert.equal(on.status, "Accepted");
  assert.equal(on.outcome, "ACCEPTED");
  assert.equal(on.replayed, false);
  await statusIs(c, id, "CHARGING");
  assert.equal((await c.getCommand(on.commandId)).state, "ACCEPTED");

  const off = await c.control(id, "off");
  assert.equal(off.status, "Accepted");
  await statusIs(c, id, "AVAILABLE");

  const listed = [];
  for await (const x of c.listChargers({ pageSize: 1 })) listed.push(x.chargerId);
  assert.ok(listed.includes(id));
  const batch = await c.batchStatus([id, `NOPE-${id}`]);
  assert.deepEqual(batch.chargers.map((x) => x.chargerId), [id]);
  assert.deepEqual(batch.notFound, [`NOPE-${id}`]);
});

test("unlockConnector and reset: the charger's answer, or PENDING at once", { skip }, async () => {
  const c = client();
  const id = env.EVCS_TEST_RESET_CHARGER;
  await statusIs(c, id, "AVAILABLE");
  const unlocked = await c.unlockConnector(id, 1);
  assert.equal(unlocked.action, "unlock");
  assert.equal(unlocked.status, "Accepted");
  assert.deepEqual(unlocked.chargerResponse, { status: "Unlocked" });

  const accepted = await c.reset(id, "Hard", { wait: false });
  assert.equal(accepted.action, "reset");
  assert.equal(accepted.state, "PENDING");
  await eventually(async () => (await c.getCommand(accepted.commandId)).state === "ACCEPTED");
  assert.equal((await c.getCommand(accepted.commandId)).ocppAction, "Reset");
  // tests/clients/test_js_client.py checks the charger got exactly one Reset
  assert.throws(() => c.reset(id, "Sometimes"), TypeError);
});

test("an unknown charger is 404; one not connected is ChargerOffline", { skip }, async () => {
  const c = client();
  const error = await c.getChargerStatus("NOPE-js").catch((e) => e);
  assert.ok(error instanceof NotFound);
  assert.equal(error.status, 404);
  assert.equal(error.error, "Not Found");
  assert.equal(error.path, "/api/v1/chargers/NOPE-js/status");
  assert.ok(error.requestId);
  const offline = await c.control(env.EVCS_TEST_OFFLINE_CHARGER, "on").catch((e) => e);
  assert.ok(offline instanceof ChargerOffline);
  assert.equal(offline.status, 409);
  assert.equal(offline.outcome, "EVSE_OFFLINE");
  assert.ok(offline.commandId);
});

test("429 carries Retry-After, and retries wait exactly that, boundedly", { skip }, async () => {
  const key = env.EVCS_TEST_LIMITED_KEY;
  const once = new EVChargingClient(key, { baseUrl, retry: { maxRetries: 0 } });
  for (let i = 0; i < 2; i++) await assert.rejects(once.getChargerStatus("NOPE-rl"), NotFound);
  const limited = await once.getChargerStatus("NOPE-rl").catch((e) => e);
  assert.ok(limited instanceof RateLimited);
  assert.equal(limited.status, 429);
  assert.ok(limited.retryAfter > 0);

  const slept = [];
  const impatient = new EVChargingClient(key, { baseUrl, retry: { maxWait: 0.5 } });
  impatient.t.sleep = async (s) => void slept.push(s);
  await assert.rejects(impatient.getChargerStatus("NOPE-rl"), RateLimited);
  assert.deepEqual(slept, []); // longer than the client may wait: thrown at once

  const patient = new EVChargingClient(key, { baseUrl, retry: { maxRetries: 2, maxWait: 120, totalWait: 240 } });
  patient.t.sleep = async (s) => void slept.push(s);
  await assert.rejects(patient.getChargerStatus("NOPE-rl"), RateLimited);
  assert.equal(slept.length, 2);
  assert.ok(slept.every((s) => s > 0));
});

test("a retried 'on' whose answer was lost sends one command", { skip }, async () => {
  const keys = [];
  let lost = false;
  const lossy = async (url, init) => {
    const response = await fetch(url, init);
    if (url.endsWith("/control")) {
      keys.push(init.headers["Idempotency-Key"]);
      if (!lost) {
        lost = true;
        await response.text();
        throw new TypeError("fetch failed: connection reset");
      }
    }
    return response;
  };
  const c = new EVChargingClient(env.EVCS_TEST_API_KEY, { baseUrl, fetch: lossy });
  await statusIs(c, env.EVCS_TEST_IDEM_CHARGER, "AVAILABLE");
  const result = await c.control(env.EVCS_TEST_IDEM_CHARGER, "on");
  assert.equal(result.status, "Accepted");
  assert.equal(result.replayed, true);
  assert.equal(keys.length, 2);
  assert.equal(keys[0], keys[1]);
  // tests/clients/test_js_client.py checks the charger got exactly one RemoteStartTransaction
});

test("the event feed delivers status changes, across a dropped connection", { skip }, async () => {
  const id = env.EVCS_TEST_EVENTS_CHARGER;
  const lastEventIds = [];
  const cutting = async (url, init) => {
    const response = await fetch(url, init);
    if (!new URL(url).pathname.endsWith("/events")) return response;
    lastEventIds.push(init.headers["Last-Event-ID"] ?? null);
    if (lastEventIds.length > 1) return response;
    // the first stream breaks right after its first status event
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let cut = false;
    const body = new ReadableStream({
      async pull(controller) {
        if (cut) return controller.error(new TypeError("terminated"));
        const { done, value } = await reader.read();
        if (done) return controller.close();
        controller.enqueue(value);
        if (decoder.decode(value).includes("event: status")) cut = true;
      },
      cancel: () => reader.cancel(),
    });
    return new Response(body, { status: response.status, headers: response.headers });
  };
  const c = new EVChargingClient(env.EVCS_TEST_API_KEY, { baseUrl, fetch: cutting });
  await statusIs(c, id, "AVAILABLE");
  const stream = await c.events({ types: ["status", "command"] }).open();
  const seen = [];
  const until = async (status) => {
    for (;;) {
      const event = await stream.next();
      if (event === null) throw new Error("the stream ended");
      if (event.type === "command") seen.push(`command:${event.data.state}`);
      if (event.type === "status" && event.data.chargerId === id) {
        seen.push(event.data.status);
        if (event.data.status === status) return event;
      }
    }
  };
  const accepted = await c.control(id, "on", { wait: false });
  assert.equal(accepted.state, "PENDING");
  const charging = await until("CHARGING");
  assert.ok(charging.id);
  await c.control(id, "off");
  await until("AVAILABLE");
  stream.close();
  assert.equal(lastEventIds[0], null);
  assert.ok(lastEventIds.length >= 2 && lastEventIds[1] !== null, JSON.stringify(lastEventIds));
  assert.ok(seen.includes("command:ACCEPTED"), JSON.stringify(seen));
  assert.equal(seen.at(-1), "AVAILABLE");
  assert.equal(stream.lastEventId !== null, true);
});
