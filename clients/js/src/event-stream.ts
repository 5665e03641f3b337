/** The live event feed: `EventStream`, which reconnects by itself. */
import { errorFromResponse, type APIError, TransportError } from "./errors.js";
import { API, query, type Transport } from "./http.js";
import { reconnectDelay } from "./retry.js";
import { SseParser, toEvent } from "./sse.js";
import type { Event, EventType } from "./types.js";

/** The feed sends a keep-alive every 15 s: this long without a byte means a dead link. */
const EVENTS_IDLE_MS = 45_000;

export interface EventsOptions {
  /** Only these event types; default all. */
  types?: EventType[];
  /** Resume after this event (an `id` from an earlier run). */
  lastEventId?: string;
  /** Consecutive failed reconnections before giving up (default: never give up). */
  maxReconnects?: number;
  /** Ends the stream when aborted. */
  signal?: AbortSignal;
}

/** The admin feed's options: every charger's events, or only these chargers' (up to 100). */
export interface AdminEventsOptions extends EventsOptions {
  chargerIds?: string[];
}

/**
 * The live event feed: `for await` it for events, forever; it reconnects by itself with
 * `Last-Event-ID`, so nothing in between is lost (within the feed's retention, 10 minutes by
 * default; beyond it a `gap` event comes first). Errors a reconnection cannot fix (401, 403,
 * 400) are thrown. Call `close()` (or abort the signal) to stop.
 */
export class EventStream implements AsyncIterable<Event> {
  /** The id of the last event yielded: persist it to resume from there later. */
  lastEventId: string | null;
  private readonly controller = new AbortController();
  private reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  private parser = new SseParser();
  private decoder = new TextDecoder();
  private queue: Event[] = [];
  private failures = 0;
  private closed = false;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly transport: Transport,
    private readonly options: AdminEventsOptions,
    /** The partner's feed, or the admin feed of every charger. */
    private readonly path: string = `${API}/events`,
  ) {
    this.lastEventId = options.lastEventId ?? null;
    options.signal?.addEventListener("abort", () => this.close(), { once: true });
  }

  /** Connect now (iterating connects otherwise): what happens after this is not missed. */
  async open(): Promise<this> {
    if (this.reader === null && !this.closed) await this.connect();
    return this;
  }

  /** Stop: close the connection; iteration ends. */
  close(): void {
    this.closed = true;
    this.controller.abort();
    this.drop();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Event> {
    try {
      for (;;) {
        const event = await this.next();
        if (event === null) return;
        yield event;
      }
    } finally {
      this.close();
    }
  }

  /** The next event, or null once closed. */
  async next(): Promise<Event | null> {
    while (!this.closed) {
      const queued = this.queue.shift();
      if (queued !== undefined) {
        this.lastEventId = queued.id ?? this.lastEventId;
        return queued;
      }
      if (this.reader === null) {
        await this.connect();
        continue;
      }
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        this.armIdleTimer();
        chunk = await this.reader.read();
      } catch {
        if (this.closed) break;
        this.failures += 1;
        await this.reconnectAfter(null, null, null);
        continue;
      } finally {
        clearTimeout(this.idleTimer);
      }
      if (chunk.done) {
        await this.reconnectAfter(null, null, null);
        continue;
      }
      const text = this.decoder.decode(chunk.value, { stream: true });
      for (const raw of this.parser.feed(text)) this.queue.push(toEvent(raw));
    }
    return null;
  }

  private armIdleTimer(): void {
    const reader = this.reader;
    this.idleTimer = setTimeout(() => {
      void reader?.cancel().catch(() => undefined);
    }, EVENTS_IDLE_MS);
  }

  private async connect(): Promise<void> {
    while (!this.closed) {
      const headers: Record<string, string> = {
        ...this.transport.headers,
        Accept: "text/event-stream",
        "Cache-Control": "no-cache",
      };
      if (this.lastEventId) headers["Last-Event-ID"] = this.lastEventId;
      const url = this.transport.url(
        this.path,
        query({
          types: this.options.types ?? undefined,
          chargerIds: this.options.chargerIds ?? undefined,
        }),
      );
      let response: Response;
      try {
        response = await this.transport.fetch(url, {
          method: "GET",
          headers,
          signal: this.controller.signal,
        });
      } catch {
        if (this.closed) return;
        this.failures += 1;
        await this.reconnectAfter(null, null, null);
        continue;
      }
      if (response.status === 200 && response.body !== null) {
        this.reader = response.body.getReader();
        const retryMs = this.parser.retryMs;
        this.parser = new SseParser();
        this.parser.retryMs = retryMs;
        this.decoder = new TextDecoder();
        this.failures = 0;
        return;
      }
      const text = await response.text().catch(() => "");
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      const error = errorFromResponse(response.status, parsed, response.headers);
      this.failures += 1;
      await this.reconnectAfter(response.status, error.retryAfter, error);
    }
  }

  private async reconnectAfter(
    status: number | null,
    retryAfter: number | null,
    error: APIError | null,
  ): Promise<void> {
    const serverRetryMs = this.parser.retryMs;
    this.drop();
    if (this.closed) return;
    const max = this.options.maxReconnects;
    const delay =
      max !== undefined && this.failures > max
        ? null
        : reconnectDelay(this.failures, status, retryAfter, serverRetryMs);
    if (delay === null) {
      this.closed = true;
      throw error ?? new TransportError("the event feed could not be reconnected");
    }
    this.parser.retryMs = serverRetryMs;
    await this.transport.sleep(delay, this.controller.signal);
  }

  private drop(): void {
    if (this.reader !== null) void this.reader.cancel().catch(() => undefined);
    this.reader = null;
  }
}
