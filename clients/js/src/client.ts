/** The partner API client. */
import { EventStream, type EventsOptions } from "./event-stream.js";
import {
  API,
  asIs,
  body,
  type Call,
  type ClientOptions,
  newIdempotencyKey,
  query,
  replayable,
  segment,
  Transport,
  VERSION,
} from "./http.js";
import type {
  BatchControlResult,
  BatchStatus,
  Charger,
  ChargerPage,
  ChargerStatus,
  Command,
  CommandAccepted,
  CommandResult,
  Health,
  MeterPage,
  MeterValue,
  PartnerTokenPut,
  PartnerTokenUpdate,
  Ready,
  ResetType,
  Session,
  SessionPage,
  Token,
  TokenPage,
  TokenStatus,
} from "./types.js";

/** Beyond this many characters of ids a batch read goes in a POST body: URLs have limits. */
const MAX_IDS_IN_URL = 1500;

export interface CommandOptions {
  /** Connector (OCPP 1.6) or EVSE (2.0.1) number; default: the charger chooses. */
  connectorId?: number;
  /**
   * `true` (default): answer with the charger's reply. `false`: answer at once with a
   * PENDING command; the outcome follows on `events()` and at `getCommand()`.
   */
  wait?: boolean;
  /** Your id for this command (default: a new UUID); the same key within 24 h never sends it twice. */
  idempotencyKey?: string;
}

export interface ControlOptions extends CommandOptions {
  /** The authorisation id the session starts for; default the operator's tag. */
  idTag?: string;
}

/** Options of a command to the whole charger: {@link EVChargingClient.reset}. */
export type ChargerCommandOptions = Omit<CommandOptions, "connectorId">;

export interface UnlockOptions extends ChargerCommandOptions {
  /** OCPP 2.0.1 only: the connector within the EVSE (default 1). */
  evseConnectorId?: number;
}

export interface HistoryOptions {
  /** Start of the window (inclusive); default 24 h before `to`. */
  from?: Date;
  /** End of the window (exclusive); default now. */
  to?: Date;
  /** Page size. */
  pageSize?: number;
}

function commandHeaders(options: CommandOptions): Record<string, string> {
  const headers: Record<string, string> = {
    "Idempotency-Key": options.idempotencyKey ?? newIdempotencyKey(),
  };
  if (options.wait === false) headers.Prefer = "respond-async";
  return headers;
}

function commandAnswer(raw: unknown, headers: Headers): CommandResult | CommandAccepted {
  const answer = replayable<CommandResult | CommandAccepted>(raw, headers);
  return answer;
}

/**
 * The partner API.
 *
 * ```ts
 * const client = new EVChargingClient("evcs_…", { baseUrl: "https://api.example.com" });
 * await client.control("CP-0001", "on");
 * console.log((await client.getChargerStatus("CP-0001")).status);
 * ```
 *
 * Retries 429 and 503 (honouring `Retry-After`) and lost connections where a repeat is
 * harmless, within `options.retry`. Commands carry an `Idempotency-Key` (generated unless you
 * give one), so a retried `on` can never start a charger twice.
 */
export class EVChargingClient {
  /** The client's version. */
  static readonly version = VERSION;
  private readonly t: Transport;

  constructor(apiKey: string, options: ClientOptions = {}) {
    if (!apiKey) throw new TypeError("an API key is required");
    this.t = new Transport(
      options.baseUrl ?? "http://127.0.0.1:8080",
      { "x-api-key": apiKey, Accept: "application/json" },
      options,
    );
  }

  private send<T>(call: Call<T>): Promise<T> {
    return this.t.send(call);
  }

  // status -----------------------------------------------------------------------------------

  /** A charger's status, connectors, meter and timestamps. `NotFound` if unknown or not yours. */
  getChargerStatus(chargerId: string): Promise<Charger> {
    return this.send({
      operationId: "getChargerStatus",
      method: "GET",
      path: `${API}/chargers/${segment(chargerId)}/status`,
      replayable: true,
      parse: asIs<Charger>,
    });
  }

  /** All your chargers in id order, fetching page after page as you iterate. */
  listChargers(
    options: { status?: ChargerStatus[]; pageSize?: number } = {},
  ): AsyncIterable<Charger> {
    return this.t.pages(
      (cursor) => ({
        operationId: "listChargers",
        method: "GET",
        path: `${API}/chargers`,
        query: query({ cursor, limit: options.pageSize, status: options.status }),
        replayable: true,
        parse: asIs<ChargerPage>,
      }),
      (page) => page.chargers,
      (page) => page.nextCursor,
    );
  }

  /** The status of up to 1000 chargers in one request; others' and unknown ids in `notFound`. */
  batchStatus(chargerIds: readonly string[]): Promise<BatchStatus> {
    const joined = chargerIds.join(",");
    if (joined.length <= MAX_IDS_IN_URL) {
      return this.send({
        operationId: "batchStatusGet",
        method: "GET",
        path: `${API}/chargers/batch/status`,
        query: { ids: joined },
        replayable: true,
        parse: asIs<BatchStatus>,
      });
    }
    return this.send({
      operationId: "batchStatusPost",
      method: "POST",
      path: `${API}/chargers/batch/status`,
      body: { ids: [...chargerIds] },
      replayable: true,
      parse: asIs<BatchStatus>,
    });
  }

  // commands ---------------------------------------------------------------------------------

  /**
   * Switch a charger `"on"` (start a session) or `"off"` (stop the running one). By default
   * the answer is the charger's (`Accepted` or `Rejected`); other outcomes throw
   * `ChargerOffline`, `CommandNotApplicable`, `CommandTimeout`, `ChargerError` or
   * `ServiceUnavailable`. With `wait: false` the answer is PENDING at once.
   */
  control(
    chargerId: string,
    action: "on" | "off",
    options?: ControlOptions & { wait?: true },
  ): Promise<CommandResult>;
  control(
    chargerId: string,
    action: "on" | "off",
    options: ControlOptions & { wait: false },
  ): Promise<CommandAccepted>;
  control(
    chargerId: string,
    action: "on" | "off",
    options: ControlOptions = {},
  ): Promise<CommandResult | CommandAccepted> {
    if (action !== "on" && action !== "off") {
      throw new TypeError(`action must be "on" or "off", not ${JSON.stringify(action)}`);
    }
    return this.send({
      operationId: "controlCharger",
      method: "POST",
      path: `${API}/chargers/${segment(chargerId)}/control`,
      query: options.wait === false ? { mode: "async" } : {},
      body: body({ action, connectorId: options.connectorId, idTag: options.idTag }),
      headers: commandHeaders(options),
      replayable: true,
      parse: commandAnswer,
    });
  }

  /**
   * Make a charger (or one connector) `"AVAILABLE"` or take it out of service
   * (`"INOPERATIVE"`): OCPP ChangeAvailability. Outcomes as for {@link control}.
   */
  setStatus(
    chargerId: string,
    status: "AVAILABLE" | "INOPERATIVE",
    options?: CommandOptions & { wait?: true },
  ): Promise<CommandResult>;
  setStatus(
    chargerId: string,
    status: "AVAILABLE" | "INOPERATIVE",
    options: CommandOptions & { wait: false },
  ): Promise<CommandAccepted>;
  setStatus(
    chargerId: string,
    status: "AVAILABLE" | "INOPERATIVE",
    options: CommandOptions = {},
  ): Promise<CommandResult | CommandAccepted> {
    if (status !== "AVAILABLE" && status !== "INOPERATIVE") {
      throw new TypeError(`status must be "AVAILABLE" or "INOPERATIVE"`);
    }
    return this.send({
      operationId: "changeChargerStatus",
      method: "PUT",
      path: `${API}/chargers/${segment(chargerId)}/status`,
      query: options.wait === false ? { mode: "async" } : {},
      body: body({ status, connectorId: options.connectorId }),
      headers: commandHeaders(options),
      replayable: true,
      parse: commandAnswer,
    });
  }

  /**
   * Unlock a connector, for a cable the driver cannot pull out: OCPP UnlockConnector.
   * `connectorId`: the connector (1.6) or the EVSE (2.0.1). The charger's own answer is in
   * `chargerResponse.status` (e.g. `Unlocked`, `UnlockFailed`). Outcomes as for {@link control}.
   */
  unlockConnector(
    chargerId: string,
    connectorId: number,
    options?: UnlockOptions & { wait?: true },
  ): Promise<CommandResult>;
  unlockConnector(
    chargerId: string,
    connectorId: number,
    options: UnlockOptions & { wait: false },
  ): Promise<CommandAccepted>;
  unlockConnector(
    chargerId: string,
    connectorId: number,
    options: UnlockOptions = {},
  ): Promise<CommandResult | CommandAccepted> {
    return this.send({
      operationId: "unlockConnector",
      method: "POST",
      path: `${API}/chargers/${segment(chargerId)}/unlock`,
      query: options.wait === false ? { mode: "async" } : {},
      body: body({ connectorId, evseConnectorId: options.evseConnectorId }),
      headers: commandHeaders(options),
      replayable: true,
      parse: commandAnswer,
    });
  }

  /**
   * Restart a charger: OCPP Reset. `"Soft"` (default) waits until no session runs (2.0.1
   * OnIdle); `"Hard"` restarts at once and ends running sessions (2.0.1 Immediate). The charger
   * goes offline and comes back with a new boot. Outcomes as for {@link control}.
   */
  reset(
    chargerId: string,
    type?: ResetType,
    options?: ChargerCommandOptions & { wait?: true },
  ): Promise<CommandResult>;
  reset(
    chargerId: string,
    type: ResetType,
    options: ChargerCommandOptions & { wait: false },
  ): Promise<CommandAccepted>;
  reset(
    chargerId: string,
    type: ResetType = "Soft",
    options: ChargerCommandOptions = {},
  ): Promise<CommandResult | CommandAccepted> {
    if (type !== "Soft" && type !== "Hard") {
      throw new TypeError(`type must be "Soft" or "Hard", not ${JSON.stringify(type)}`);
    }
    return this.send({
      operationId: "resetCharger",
      method: "POST",
      path: `${API}/chargers/${segment(chargerId)}/reset`,
      query: options.wait === false ? { mode: "async" } : {},
      body: { type },
      headers: commandHeaders(options),
      replayable: true,
      parse: commandAnswer,
    });
  }

  /** The same on/off command to up to 1000 chargers at once; each outcome in `results`. */
  batchControl(
    chargerIds: readonly string[],
    action: "on" | "off",
    options: ControlOptions = {},
  ): Promise<BatchControlResult> {
    return this.send({
      operationId: "batchControl",
      method: "POST",
      path: `${API}/chargers/batch/control`,
      query: options.wait === false ? { mode: "async" } : {},
      body: body({
        ids: [...chargerIds],
        action,
        connectorId: options.connectorId,
        idTag: options.idTag,
      }),
      headers: commandHeaders(options),
      replayable: true,
      parse: (raw, headers) => replayable<BatchControlResult>(raw, headers),
    });
  }

  /** A command's state (PENDING until known) and the charger's answer. */
  getCommand(commandId: string): Promise<Command> {
    return this.send({
      operationId: "getCommand",
      method: "GET",
      path: `${API}/commands/${segment(commandId)}`,
      replayable: true,
      parse: asIs<Command>,
    });
  }

  // history ----------------------------------------------------------------------------------

  /** A charger's meter values in a window (default the last 24 h), oldest first. */
  meterValues(
    chargerId: string,
    options: HistoryOptions & { measurand?: string } = {},
  ): AsyncIterable<MeterValue> {
    return this.t.pages(
      (cursor) => ({
        operationId: "getMeterValues",
        method: "GET",
        path: `${API}/chargers/${segment(chargerId)}/meter-values`,
        query: query({
          from: options.from,
          to: options.to,
          measurand: options.measurand,
          limit: options.pageSize,
          cursor,
        }),
        replayable: true,
        parse: asIs<MeterPage>,
      }),
      (page) => page.meterValues,
      (page) => page.nextCursor,
    );
  }

  /** A charger's charging sessions that started in a window, newest first. */
  sessions(chargerId: string, options: HistoryOptions = {}): AsyncIterable<Session> {
    return this.t.pages(
      (cursor) => ({
        operationId: "getSessions",
        method: "GET",
        path: `${API}/chargers/${segment(chargerId)}/sessions`,
        query: query({ from: options.from, to: options.to, limit: options.pageSize, cursor }),
        replayable: true,
        parse: asIs<SessionPage>,
      }),
      (page) => page.sessions,
      (page) => page.nextCursor,
    );
  }

  // tokens -----------------------------------------------------------------------------------

  /** Register one of your drivers' tokens, or replace it as a whole. */
  putToken(tokenId: string, token: PartnerTokenPut): Promise<Token> {
    return this.send({
      operationId: "putToken",
      method: "PUT",
      path: `${API}/tokens/${segment(tokenId)}`,
      body: body(token),
      replayable: true,
      parse: asIs<Token>,
    });
  }

  /** One of your tokens. */
  getToken(tokenId: string): Promise<Token> {
    return this.send({
      operationId: "getToken",
      method: "GET",
      path: `${API}/tokens/${segment(tokenId)}`,
      replayable: true,
      parse: asIs<Token>,
    });
  }

  /** Change what is given (e.g. block a lost card); null clears an expiry or a group. */
  updateToken(tokenId: string, changes: PartnerTokenUpdate): Promise<Token> {
    return this.send({
      operationId: "updateToken",
      method: "PATCH",
      path: `${API}/tokens/${segment(tokenId)}`,
      body: changes,
      replayable: true,
      parse: asIs<Token>,
    });
  }

  /** Your tokens in id order, page after page. */
  listTokens(
    options: { status?: TokenStatus; groupId?: string; pageSize?: number } = {},
  ): AsyncIterable<Token> {
    return this.t.pages(
      (cursor) => ({
        operationId: "listTokens",
        method: "GET",
        path: `${API}/tokens`,
        query: query({
          status: options.status,
          groupId: options.groupId,
          limit: options.pageSize,
          cursor,
        }),
        replayable: true,
        parse: asIs<TokenPage>,
      }),
      (page) => page.tokens,
      (page) => page.nextCursor,
    );
  }

  /** The sessions one of your tokens started in a window, on any charger, newest first. */
  tokenSessions(tokenId: string, options: HistoryOptions = {}): AsyncIterable<Session> {
    return this.t.pages(
      (cursor) => ({
        operationId: "getTokenSessions",
        method: "GET",
        path: `${API}/tokens/${segment(tokenId)}/sessions`,
        query: query({ from: options.from, to: options.to, limit: options.pageSize, cursor }),
        replayable: true,
        parse: asIs<SessionPage>,
      }),
      (page) => page.sessions,
      (page) => page.nextCursor,
    );
  }

  // live events ------------------------------------------------------------------------------

  /**
   * The live feed of your chargers' changes (`status`, `connection`, `session`, `command`,
   * and `gap`), reconnecting by itself with `Last-Event-ID`.
   */
  events(options: EventsOptions = {}): EventStream {
    return new EventStream(this.t, options);
  }

  // operations -------------------------------------------------------------------------------

  /** Liveness of the gateway (needs no key). */
  health(): Promise<Health> {
    return this.send({
      operationId: "health",
      method: "GET",
      path: `${API}/health`,
      replayable: true,
      parse: asIs<Health>,
    });
  }

  /** Readiness: `ServiceUnavailable` while Redis or PostgreSQL does not answer. */
  ready(): Promise<Ready> {
    return this.send({
      operationId: "ready",
      method: "GET",
      path: `${API}/health/ready`,
      replayable: true,
      parse: asIs<Ready>,
    });
  }
}
