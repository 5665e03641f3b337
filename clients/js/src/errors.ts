/**
 * One error hierarchy, mapped from the API's standard error body:
 *
 * ```text
 * EVChargingError
 * ├── TransportError              no HTTP answer (connection refused, reset, timed out)
 * └── APIError                    .status, .message, .error, .requestId, .body
 *     ├── BadRequest              400
 *     ├── Unauthorized            401  missing, unknown, revoked or expired key
 *     ├── Forbidden               403  account suspended
 *     ├── NotFound                404  unknown, or not your charger
 *     ├── Conflict                409
 *     │   ├── ChargerOffline           not connected (EVSE_OFFLINE)
 *     │   ├── CommandNotApplicable     e.g. off with no session running (NOT_SUPPORTED)
 *     │   └── IdempotencyInProgress    the first request with this key still runs
 *     ├── PayloadTooLarge         413
 *     ├── UnsupportedMediaType    415
 *     ├── IdempotencyKeyReused    422  the key was used with a different request
 *     │                                (another 422, e.g. an operator's OCPP payload that
 *     │                                breaks its schema, is a plain APIError)
 *     ├── RateLimited             429  .retryAfter
 *     └── ServerError             5xx
 *         ├── ChargerError        502  the charger answered with an OCPP error (FAILED)
 *         ├── ServiceUnavailable  503  .retryAfter; nothing was done, retry later
 *         └── CommandTimeout      504  no answer from the charger in time (TIMEOUT)
 * ```
 */

/** Base of every error this client throws. */
export class EVChargingError extends Error {
  override name = "EVChargingError";
}

/** The request got no HTTP answer: connection refused or reset, or a timeout. */
export class TransportError extends EVChargingError {
  override name = "TransportError";
}

export interface APIErrorFields {
  status: number;
  message: string;
  error?: string;
  path?: string;
  timestamp?: string;
  requestId?: string | null;
  commandId?: string | null;
  outcome?: string | null;
  retryAfter?: number | null;
  body?: Record<string, unknown>;
}

/** The API answered with an error status and the standard error body. */
export class APIError extends EVChargingError {
  override name = "APIError";
  /** The HTTP status. */
  readonly status: number;
  /** The status's reason phrase, e.g. `Not Found`. */
  readonly error: string;
  readonly path: string;
  readonly timestamp: string;
  /** The X-Request-Id of the answer: quote it when asking for support. */
  readonly requestId: string | null;
  /** For command outcomes: the command's id. */
  readonly commandId: string | null;
  /** For command outcomes: EVSE_OFFLINE, NOT_SUPPORTED, FAILED or TIMEOUT. */
  readonly outcome: string | null;
  /** Seconds the API asked to wait before trying again (Retry-After), if it said. */
  readonly retryAfter: number | null;
  /** The whole error body, including fields this client does not know. */
  readonly body: Record<string, unknown>;

  constructor(fields: APIErrorFields) {
    super(fields.message);
    this.status = fields.status;
    this.error = fields.error ?? "";
    this.path = fields.path ?? "";
    this.timestamp = fields.timestamp ?? "";
    this.requestId = fields.requestId ?? null;
    this.commandId = fields.commandId ?? null;
    this.outcome = fields.outcome ?? null;
    this.retryAfter = fields.retryAfter ?? null;
    this.body = fields.body ?? {};
  }
}

/** 400: the request is invalid; the message says where. */
export class BadRequest extends APIError {
  override name = "BadRequest";
}
/** 401: no API key, or one that is malformed, unknown, revoked, expired or rotated out. */
export class Unauthorized extends APIError {
  override name = "Unauthorized";
}
/** 403: the account is suspended (or a partner key was sent to the admin API). */
export class Forbidden extends APIError {
  override name = "Forbidden";
}
/** 404: the charger (or command) is unknown, or not yours; the API never tells which. */
export class NotFound extends APIError {
  override name = "NotFound";
}
/** 409: the request conflicts with the current state. */
export class Conflict extends APIError {
  override name = "Conflict";
}
/** 409, outcome EVSE_OFFLINE: the charger is not connected; nothing was sent. */
export class ChargerOffline extends Conflict {
  override name = "ChargerOffline";
}
/** 409, outcome NOT_SUPPORTED: the command does not apply to the charger's state. */
export class CommandNotApplicable extends Conflict {
  override name = "CommandNotApplicable";
}
/** 409: a request with the same Idempotency-Key is still running; retry shortly. */
export class IdempotencyInProgress extends Conflict {
  override name = "IdempotencyInProgress";
}
/** 413: the body is larger than the API accepts. */
export class PayloadTooLarge extends APIError {
  override name = "PayloadTooLarge";
}
/** 415: the body is not JSON. */
export class UnsupportedMediaType extends APIError {
  override name = "UnsupportedMediaType";
}
/** 422: the Idempotency-Key was used earlier with a different request. */
export class IdempotencyKeyReused extends APIError {
  override name = "IdempotencyKeyReused";
}
/** 429: your rate limit is exhausted; `retryAfter` says for how many seconds. */
export class RateLimited extends APIError {
  override name = "RateLimited";
}
/** 5xx: the API could not do what was asked. */
export class ServerError extends APIError {
  override name = "ServerError";
}
/** 502, outcome FAILED: the charger answered the command with an OCPP error. */
export class ChargerError extends ServerError {
  override name = "ChargerError";
}
/** 503: a service behind the API is unavailable; nothing was done. Safe to retry. */
export class ServiceUnavailable extends ServerError {
  override name = "ServiceUnavailable";
}
/**
 * 504, outcome TIMEOUT: the charger did not answer in time. It may still act on the command:
 * check `getCommand(commandId)` or the event feed before retrying.
 */
export class CommandTimeout extends ServerError {
  override name = "CommandTimeout";
}

type ErrorClass = new (fields: APIErrorFields) => APIError;

const BY_STATUS: Record<number, ErrorClass> = {
  400: BadRequest,
  401: Unauthorized,
  403: Forbidden,
  404: NotFound,
  409: Conflict,
  413: PayloadTooLarge,
  415: UnsupportedMediaType,
  422: IdempotencyKeyReused,
  429: RateLimited,
  502: ChargerError,
  503: ServiceUnavailable,
  504: CommandTimeout,
};

/** The error class for an error answer. */
export function errorClass(
  status: number,
  outcome: string | null,
  idempotentRequest: boolean,
): ErrorClass {
  if (status === 409) {
    if (outcome === "EVSE_OFFLINE") return ChargerOffline;
    if (outcome === "NOT_SUPPORTED") return CommandNotApplicable;
    return idempotentRequest ? IdempotencyInProgress : Conflict;
  }
  if (status === 422) return idempotentRequest ? IdempotencyKeyReused : APIError;
  return BY_STATUS[status] ?? (status >= 500 ? ServerError : APIError);
}

/** Retry-After in seconds (the API sends delta-seconds); null if absent or not a number. */
export function parseRetryAfter(value: string | null): number | null {
  if (value === null || value.trim() === "") return null;
  const seconds = Number(value.trim());
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : null;
}

function text(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

/** The error for an error answer; tolerant of a body that is not the standard one. */
export function errorFromResponse(
  status: number,
  body: unknown,
  headers: Headers,
  idempotentRequest = false,
): APIError {
  const fields =
    body !== null && typeof body === "object" && !Array.isArray(body)
      ? (body as Record<string, unknown>)
      : {};
  const outcome = text(fields.outcome);
  const Cls = errorClass(status, outcome, idempotentRequest);
  return new Cls({
    status,
    message: text(fields.message) ?? (typeof body === "string" && body ? body : "no error message"),
    error: text(fields.error) ?? "",
    path: text(fields.path) ?? "",
    timestamp: text(fields.timestamp) ?? "",
    requestId: headers.get("x-request-id"),
    commandId: text(fields.commandId),
    outcome,
    retryAfter: parseRetryAfter(headers.get("retry-after")),
    body: fields,
  });
}
