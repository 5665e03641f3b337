/**
 * When to retry a request, and how long to wait first: plain decisions, no I/O.
 *
 * Only what a partner would want retried is: 429 and 503 (waiting what `Retry-After` says),
 * 409 "the first request with this Idempotency-Key still runs", and a lost connection when
 * repeating the request cannot do anything twice (reads, and commands, which always carry an
 * Idempotency-Key). Every retry is bounded by a count, the longest single wait, and the total
 * time spent waiting.
 */

/** How persistent the client is. `{ maxRetries: 0 }` never retries. */
export interface RetryPolicy {
  /** Retries after the first attempt (default 3). */
  maxRetries: number;
  /** Longest single wait in seconds: a Retry-After beyond it is thrown to you at once (30). */
  maxWait: number;
  /** Most seconds spent waiting over all retries of one call (60). */
  totalWait: number;
  /** First wait when the API gave no Retry-After; doubles each time, with jitter (0.5). */
  backoff: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 3, maxWait: 30, totalWait: 60, backoff: 0.5 };

export interface Failure {
  /** The HTTP status, or null when there was no answer. */
  status: number | null;
  retryAfter: number | null;
  /** Sending the request again cannot do anything twice. */
  replayable: boolean;
  hasIdempotencyKey: boolean;
}

/** Seconds to wait before attempt `attempt + 1`, or null to give up. */
export function waitBeforeRetry(
  policy: RetryPolicy,
  attempt: number,
  waited: number,
  failure: Failure,
): number | null {
  if (attempt > policy.maxRetries) return null;
  const { status, retryAfter } = failure;
  if (status === null) {
    // fetch cannot tell whether the request left before the connection failed
    if (!failure.replayable) return null;
  } else if (status === 409) {
    if (!(failure.hasIdempotencyKey && retryAfter !== null)) return null;
  } else if (status !== 429 && status !== 503) {
    return null;
  }
  const delay =
    retryAfter ?? policy.backoff * 2 ** (attempt - 1) * (0.5 + Math.random() / 2);
  if (delay > policy.maxWait || waited + delay > policy.totalWait) return null;
  return delay;
}

const MAX_RECONNECT_WAIT = 30;
const RECONNECT_STATUSES = new Set([429, 500, 502, 503, 504]);

/**
 * Seconds to wait before reconnecting the event feed, or null to give up. `failures` counts
 * consecutive failed attempts (0: the stream had been open and ended: wait what the server
 * asked in its `retry:` field). Statuses a retry cannot fix (400, 401, 403, 404) give up.
 */
export function reconnectDelay(
  failures: number,
  status: number | null,
  retryAfter: number | null,
  serverRetryMs: number | null,
): number | null {
  if (status !== null && !RECONNECT_STATUSES.has(status)) return null;
  if (retryAfter !== null) return retryAfter;
  if (failures === 0) return (serverRetryMs ?? 2000) / 1000;
  const backoff = Math.min(MAX_RECONNECT_WAIT, 0.5 * 2 ** (failures - 1));
  return backoff * (0.5 + Math.random() / 2);
}
