// The client's decisions, without a server: errors from the standard body, when to retry
// and how long to wait, the SSE parser, and that a command's retries share one key.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  APIError,
  ChargerError,
  ChargerOffline,
  CommandNotApplicable,
  CommandTimeout,
  Conflict,
  EVChargingClient,
  errorFromResponse,
  IdempotencyInProgress,
  IdempotencyKeyReused,
  NotFound,
  RateLimited,
  ServiceUnavailable,
  TransportError,
} from "../dist/index.js";
import { origin } from "../dist/http.js";
import { reconnectDelay, waitBeforeRetry, DEFAULT_RETRY } from "../dist/retry.js";
import { SseParser, toEvent } from "../dist/sse.js";

const body = (status, extra = {}) => ({
  statusCode: status,
  message: "something",
  error: "Some Error",
  timestamp: "2026-03-01T10:15:30.000Z",
  path: "/api/v1/chargers/CP-1/control",
  ...extra,
});

test("error classes follow the status and the outcome", () => {
  const headers = new Headers({ "x-request-id": "req-1", "retry-after": "7" });
  const cases = [
    [404, {}, false, NotFound],
    [409, { outcome: "EVSE_OFFLINE", commandId: "cmd_1" }, true, ChargerOffline],
    [409, { outcome: "NOT_SUPPORTED" }, true, CommandNotApplicable],
    [409, {}, true, IdempotencyInProgress],
    [409, {}, false, Conflict],
    [422, {}, true, IdempotencyKeyReused],
    [422, {}, false, APIError], // e.g. an operator's OCPP payload that breaks its schema
    [429, {}, false, RateLimited],
    [502, { outcome: "FAILED" }, true, ChargerError],
    [503, {}, false, ServiceUnavailable],
    [504, { outcome: "TIMEOUT" }, true, CommandTimeout],
    [418, {}, false, APIError],
  ];
  for (const [status, extra, idempotent, Cls] of cases) {
    const error = errorFromResponse(status, body(status, extra), headers, idempotent);
    assert.equal(error.constructor, Cls, `${status} ${JSON.stringify(extra)}`);
    assert.ok(error instanceof APIError);
    assert.equal(error.status, status);
    assert.equal(error.message, "something");
    assert.equal(error.requestId, "req-1");
    assert.equal(error.retryAfter, 7);
    assert.equal(error.outcome, extra.outcome ?? null);
  }
  const odd = errorFromResponse(502, "<html>bad gateway</html>", new Headers());
  assert.ok(odd instanceof ChargerError);
  assert.equal(odd.message, "<html>bad gateway</html>");
});

const failure = (status, extra = {}) => ({
  status,
  retryAfter: null,
  replayable: true,
  hasIdempotencyKey: false,
  ...extra,
});

test("retries only what a partner wants retried, and boundedly", () => {
  assert.equal(waitBeforeRetry(DEFAULT_RETRY, 1, 0, failure(429, { retryAfter: 3 })), 3);
  assert.equal(waitBeforeRetry(DEFAULT_RETRY, 1, 0, failure(503, { retryAfter: 2 })), 2);
  for (const status of [400, 401, 403, 404, 409, 422, 500, 502, 504]) {
    assert.equal(waitBeforeRetry(DEFAULT_RETRY, 1, 0, failure(status)), null, String(status));
  }
  const stillRunning = failure(409, { retryAfter: 1, hasIdempotencyKey: true });
  assert.equal(waitBeforeRetry(DEFAULT_RETRY, 1, 0, stillRunning), 1);
  assert.notEqual(waitBeforeRetry(DEFAULT_RETRY, 1, 0, failure(null)), null);
  assert.equal(waitBeforeRetry(DEFAULT_RETRY, 1, 0, failure(null, { replayable: false })), null);
  const policy = { maxRetries: 2, maxWait: 10, totalWait: 15, backoff: 0.5 };
  assert.equal(waitBeforeRetry(policy, 1, 0, failure(429, { retryAfter: 11 })), null);
  assert.equal(waitBeforeRetry(policy, 1, 10, failure(429, { retryAfter: 6 })), null);
  assert.equal(waitBeforeRetry(policy, 3, 0, failure(429, { retryAfter: 1 })), null);
  assert.equal(reconnectDelay(0, null, null, 2000), 2);
  assert.equal(reconnectDelay(1, 429, 12, 2000), 12);
  assert.ok(reconnectDelay(10, null, null, null) <= 30);
  for (const status of [400, 401, 403, 404]) assert.equal(reconnectDelay(1, status, null, null), null);
});

test("the SSE parser follows the event-stream format, across chunk boundaries", () => {
  const parser = new SseParser();
  const text =
    "retry: 2000\r\n\r\n: keep-alive\n\nid: 1-0\nevent: status\n" +
    'data: {"chargerId": "CP-1", "status": "CHARGING"}\n\n' +
    'event: gap\ndata: {"message": "trimmed"}\n\nevent: brand-new\ndata: [1]\n\n';
  const raws = [];
  for (let i = 0; i < text.length; i += 7) raws.push(...parser.feed(text.slice(i, i + 7)));
  assert.equal(parser.retryMs, 2000);
  const events = raws.map(toEvent);
  assert.deepEqual(events[0], { type: "status", id: "1-0", data: { chargerId: "CP-1", status: "CHARGING" } });
  assert.equal(events[1].type, "gap");
  assert.deepEqual(events[2], { type: "unknown", event: "brand-new", id: "1-0", data: [1] });
});

test("the base URL may carry /api/v1 or not", () => {
  assert.equal(origin("https://api.example.com/"), "https://api.example.com");
  assert.equal(origin("https://api.example.com/api/v1"), "https://api.example.com");
  assert.equal(origin("https://example.com/ev/api/v1/"), "https://example.com/ev");
});

test("a command retried after 503 keeps its Idempotency-Key; ids stay in their segment", async () => {
  const seen = [];
  const answers = [
    new Response(JSON.stringify(body(503)), { status: 503 }),
    new Response(
      JSON.stringify({ commandId: "cmd_1", chargerId: "CP/1", action: "on", status: "Accepted",
        outcome: "ACCEPTED", ocppAction: "RemoteStartTransaction", chargerResponse: null }),
      { status: 200, headers: { "content-type": "application/json" } },
    ),
  ];
  const fetch = async (url, init) => {
    seen.push({ url, key: init.headers["Idempotency-Key"], body: JSON.parse(init.body) });
    return answers.shift();
  };
  const client = new EVChargingClient("evcs_k", { baseUrl: "http://gw", fetch, retry: { backoff: 0 } });
  const result = await client.control("CP/1", "on", { connectorId: 2 });
  assert.equal(result.status, "Accepted");
  assert.equal(result.replayed, false);
  assert.equal(seen.length, 2);
  assert.equal(seen[0].key, seen[1].key);
  assert.match(seen[0].key, /^[0-9a-f-]{36}$/);
  assert.equal(seen[0].url, "http://gw/api/v1/chargers/CP%2F1/control");
  assert.deepEqual(seen[0].body, { action: "on", connectorId: 2 });
});

test("a refused connection is a TransportError", async () => {
  const fetch = async () => {
    throw new TypeError("fetch failed");
  };
  const client = new EVChargingClient("evcs_k", { baseUrl: "http://gw", fetch, retry: { maxRetries: 1, backoff: 0 } });
  await assert.rejects(client.health(), TransportError);
});
