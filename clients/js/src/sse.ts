/** A Server-Sent Events parser (the WHATWG event-stream format), fed text chunk by chunk. */
import type { Event } from "./types.js";

export interface RawEvent {
  type: string;
  data: string;
  id: string | null;
}

const KNOWN = new Set(["status", "connection", "session", "command", "gap"]);

/** Feeds text in, gets events out; remembers the last id and the server's retry hint. */
export class SseParser {
  lastEventId: string | null = null;
  retryMs: number | null = null;
  private buffer = "";
  private type = "";
  private data: string[] = [];

  /** Take a chunk of text; return the events it completes. */
  feed(chunk: string): RawEvent[] {
    this.buffer += chunk;
    const out: RawEvent[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      // a lone \r at the end may be the first half of \r\n: wait for more
      if (match === null || (match[0] === "\r" && match.index === this.buffer.length - 1)) break;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const event = this.line(line);
      if (event !== null) out.push(event);
    }
    return out;
  }

  private line(line: string): RawEvent | null {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) return null; // a comment, e.g. the keep-alive
    const colon = line.indexOf(":");
    const name = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (name === "data") this.data.push(value);
    else if (name === "event") this.type = value;
    else if (name === "id") {
      if (!value.includes("\0")) this.lastEventId = value;
    } else if (name === "retry" && /^\d+$/.test(value)) this.retryMs = Number(value);
    return null;
  }

  private dispatch(): RawEvent | null {
    const data = this.data;
    const type = this.type || "message";
    this.data = [];
    this.type = "";
    if (data.length === 0) return null;
    return { type, data: data.join("\n"), id: this.lastEventId };
  }
}

/** The typed event for a raw one; types this client does not know become `unknown`. */
export function toEvent(raw: RawEvent): Event {
  let data: unknown;
  try {
    data = JSON.parse(raw.data);
  } catch {
    return { type: "unknown", event: raw.type, id: raw.id, data: raw.data };
  }
  if (!KNOWN.has(raw.type) || data === null || typeof data !== "object") {
    return { type: "unknown", event: raw.type, id: raw.id, data };
  }
  return { type: raw.type, id: raw.id, data } as Event;
}
