/** What the partner and admin clients share: the base URL, sending with retries, paging. */
import { errorFromResponse, EVChargingError, TransportError } from "./errors.js";
import { DEFAULT_RETRY, type RetryPolicy, waitBeforeRetry } from "./retry.js";
import type { OperationId } from "./types.js";

export const VERSION = "1.0.0";
export const API = "/api/v1";

/** The platform's fetch, or one you pass (a proxy, a test double). */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface ClientOptions {
  /** The gateway's URL, with or without `/api/v1` (default `http://127.0.0.1:8080`). */
  baseUrl?: string;
  /** How persistent the client is (see {@link RetryPolicy}); `{ maxRetries: 0 }`: never retry. */
  retry?: Partial<RetryPolicy>;
  /** Milliseconds one attempt may take (default 30000; commands wait for the charger). */
  timeoutMs?: number;
  /** A fetch implementation; default the platform's. */
  fetch?: FetchLike;
}

/** One request of one operation, and how to read its successful answer. */
export interface Call<T> {
  operationId: OperationId;
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  query?: Record<string, string | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
  /** Sending it twice does nothing twice (a read, or a command under an Idempotency-Key). */
  replayable: boolean;
  parse: (body: unknown, headers: Headers) => T;
}

/** The gateway's URL without a trailing `/api/v1`: the API's paths go under it. */
export function origin(baseUrl: string): string {
  let url = baseUrl.replace(/\/+$/, "");
  if (url.endsWith(API)) url = url.slice(0, -API.length);
  return url;
}

/** A path segment, escaped: an id can never reach another path. */
export function segment(value: string): string {
  return encodeURIComponent(value);
}

/** A new idempotency key: a UUID where the platform has one, else 122 random bits. */
export function newIdempotencyKey(): string {
  const c = (globalThis as { crypto?: Crypto }).crypto;
  if (c !== undefined && typeof c.randomUUID === "function") return c.randomUUID();
  const bytes = new Uint8Array(16);
  if (c !== undefined && typeof c.getRandomValues === "function") c.getRandomValues(bytes);
  else for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Wait, unless the signal aborts first. */
export function sleep(seconds: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, seconds * 1000);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

async function bodyOf(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === "") return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Sends {@link Call}s with retries. */
export class Transport {
  readonly base: string;
  readonly retry: RetryPolicy;
  readonly timeoutMs: number;
  readonly fetch: FetchLike;
  /** Replaceable in tests. */
  sleep: (seconds: number, signal?: AbortSignal) => Promise<void> = sleep;

  constructor(
    baseUrl: string,
    readonly headers: Record<string, string>,
    options: ClientOptions,
  ) {
    this.base = origin(baseUrl);
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.timeoutMs = options.timeoutMs ?? 30_000;
    const platformFetch = (globalThis as { fetch?: FetchLike }).fetch;
    const chosen = options.fetch ?? platformFetch;
    if (chosen === undefined) throw new EVChargingError("no fetch: pass options.fetch");
    // a bare reference to window.fetch must be called on globalThis in browsers
    this.fetch = options.fetch ?? ((input, init) => chosen.call(globalThis, input, init));
  }

  url(path: string, query?: Record<string, string | undefined>): string {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value !== undefined) params.set(name, value);
    }
    const search = params.toString();
    return `${this.base}${path}${search ? `?${search}` : ""}`;
  }

  async send<T>(call: Call<T>): Promise<T> {
    const headers: Record<string, string> = { ...this.headers, ...call.headers };
    if (call.body !== undefined) headers["Content-Type"] = "application/json";
    const hasIdempotencyKey = call.headers?.["Idempotency-Key"] !== undefined;
    const url = this.url(call.path, call.query);
    let waited = 0;
    for (let attempt = 1; ; attempt++) {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), this.timeoutMs);
      let response: Response;
      let body: unknown;
      try {
        response = await this.fetch(url, {
          method: call.method,
          headers,
          body: call.body === undefined ? undefined : JSON.stringify(call.body),
          signal: controller.signal,
        });
        body = await bodyOf(response);
      } catch (cause) {
        const delay = waitBeforeRetry(this.retry, attempt, waited, {
          status: null,
          retryAfter: null,
          replayable: call.replayable,
          hasIdempotencyKey,
        });
        if (delay === null) {
          throw new TransportError(`${call.operationId}: ${String(cause)}`, { cause });
        }
        await this.sleep(delay);
        waited += delay;
        continue;
      } finally {
        clearTimeout(timer);
      }
      if (response.ok) {
        try {
          return call.parse(body, response.headers);
        } catch (cause) {
          throw new EVChargingError(
            `${call.operationId}: unexpected answer (${response.status}): ${String(cause)}`,
            { cause },
          );
        }
      }
      const error = errorFromResponse(response.status, body, response.headers, hasIdempotencyKey);
      const delay = waitBeforeRetry(this.retry, attempt, waited, {
        status: response.status,
        retryAfter: error.retryAfter,
        replayable: call.replayable,
        hasIdempotencyKey,
      });
      if (delay === null) throw error;
      await this.sleep(delay);
      waited += delay;
    }
  }

  /** Every item of every page, following `nextCursor`. */
  async *pages<P, I>(
    page: (cursor: string | undefined) => Call<P>,
    items: (page: P) => I[],
    nextCursor: (page: P) => string | null,
  ): AsyncGenerator<I, void, undefined> {
    let cursor: string | undefined;
    for (;;) {
      const current = await this.send(page(cursor));
      yield* items(current);
      const next = nextCursor(current);
      if (next === null) return;
      cursor = next;
    }
  }
}

/** A JSON answer as is. */
export function asIs<T>(body: unknown): T {
  if (body === null || typeof body !== "object") throw new Error("not a JSON object");
  return body as T;
}

/** A command's answer, marked when it replays an earlier request's (Idempotent-Replayed). */
export function replayable<T>(body: unknown, headers: Headers): T & { replayed: boolean } {
  return { ...asIs<T>(body), replayed: headers.get("idempotent-replayed") === "true" };
}

/** Query values as the API spells them. */
export function query(
  params: Record<string, string | number | boolean | Date | readonly string[] | null | undefined>,
): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === null) continue;
    if (value instanceof Date) out[name] = value.toISOString();
    else if (Array.isArray(value)) out[name] = value.join(",");
    else out[name] = String(value);
  }
  return out;
}

/** A JSON body without the fields that were not given. */
export function body(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}
