/** The operator's admin API client: partners, keys, chargers, OCPP commands, tokens, audit log. */
import type { HistoryOptions } from "./client.js";
import { type AdminEventsOptions, EventStream } from "./event-stream.js";
import { API, asIs, body, type Call, type ClientOptions, query, segment, Transport } from "./http.js";
import type {
  AdminCharger,
  AdminChargerDetail,
  AdminChargerPage,
  AdminCommand,
  AdminCommandPage,
  ApiKey,
  AuditEntry,
  AuditPage,
  ChargerStatus,
  Command,
  ConsoleSession,
  ConsoleSessionEnded,
  MeterPage,
  MeterValue,
  IssuedKey,
  KeyList,
  LocalList,
  LocalListSent,
  OcppAction,
  OperatorCommandAccepted,
  OperatorCommandResult,
  Partner,
  PartnerDeleted,
  PartnerPage,
  PartnerUpdate,
  RegisteredCharger,
  Session,
  SessionPage,
  StatusChange,
  StatusChangePage,
  SystemState,
  Token,
  TokenCreate,
  TokenPage,
  TokenStatus,
  TokenUpdate,
} from "./types.js";

const ADMIN = `${API}/admin`;

export interface AdminOptions extends ClientOptions {
  /** Names you in the audit log (`X-Actor`). */
  actor?: string;
}

/**
 * The admin API. `adminToken` is the gateway's `EVCS_ADMIN_TOKEN`.
 *
 * Retries only what is safe to repeat: reads, and any request refused with 429/503.
 */
export class EVChargingAdmin {
  private readonly t: Transport;

  constructor(adminToken: string, options: AdminOptions = {}) {
    if (!adminToken) throw new TypeError("an admin token is required");
    const headers: Record<string, string> = {
      Authorization: `Bearer ${adminToken}`,
      Accept: "application/json",
    };
    if (options.actor) headers["X-Actor"] = options.actor;
    this.t = new Transport(options.baseUrl ?? "http://127.0.0.1:8080", headers, options);
  }

  private send<T>(call: Call<T>): Promise<T> {
    return this.t.send(call);
  }

  /**
   * Sign in to the operator console with the admin token: the answer sets the session cookie
   * (a browser keeps it) and holds the CSRF token its changes send as `X-CSRF-Token`. What the
   * session does is audited as `console:<actor>`.
   */
  createSession(options: { actor?: string } = {}): Promise<ConsoleSession> {
    return this.send({
      operationId: "adminCreateSession",
      method: "POST",
      path: `${ADMIN}/session`,
      body: body({ actor: options.actor }),
      replayable: false,
      parse: asIs<ConsoleSession>,
    });
  }

  /** The console session of the request's cookie (`NotFound` without one). */
  getSession(): Promise<ConsoleSession> {
    return this.send({
      operationId: "adminGetSession",
      method: "GET",
      path: `${ADMIN}/session`,
      replayable: true,
      parse: asIs<ConsoleSession>,
    });
  }

  /** Sign out: end the console session of the request's cookie, if any. */
  endSession(): Promise<ConsoleSessionEnded> {
    return this.send({
      operationId: "adminEndSession",
      method: "DELETE",
      path: `${ADMIN}/session`,
      replayable: true,
      parse: asIs<ConsoleSessionEnded>,
    });
  }

  /** Create a partner; without limits it gets the gateway's defaults. */
  createPartner(partner: {
    name: string;
    id?: string;
    chargerQuota?: number;
    rateLimitMinute?: number;
    rateLimitHour?: number;
  }): Promise<Partner> {
    return this.send({
      operationId: "adminCreatePartner",
      method: "POST",
      path: `${ADMIN}/partners`,
      body: body(partner),
      replayable: false,
      parse: asIs<Partner>,
    });
  }

  /** Every partner, page after page. */
  listPartners(
    options: { status?: "active" | "suspended"; pageSize?: number } = {},
  ): AsyncIterable<Partner> {
    return this.t.pages(
      (cursor) => ({
        operationId: "adminListPartners",
        method: "GET",
        path: `${ADMIN}/partners`,
        query: query({ status: options.status, limit: options.pageSize, cursor }),
        replayable: true,
        parse: asIs<PartnerPage>,
      }),
      (page) => page.partners,
      (page) => page.nextCursor,
    );
  }

  /** A partner. */
  getPartner(partnerId: string): Promise<Partner> {
    return this.send({
      operationId: "adminGetPartner",
      method: "GET",
      path: `${ADMIN}/partners/${segment(partnerId)}`,
      replayable: true,
      parse: asIs<Partner>,
    });
  }

  /** Change what is given; null resets a quota (no cap) or a limit (the default). */
  updatePartner(partnerId: string, changes: PartnerUpdate): Promise<Partner> {
    return this.send({
      operationId: "adminUpdatePartner",
      method: "PATCH",
      path: `${ADMIN}/partners/${segment(partnerId)}`,
      body: changes,
      replayable: true,
      parse: asIs<Partner>,
    });
  }

  /** Suspend a partner: its keys get 403 on every gateway at once. */
  suspendPartner(partnerId: string): Promise<Partner> {
    return this.send({
      operationId: "adminSuspendPartner",
      method: "POST",
      path: `${ADMIN}/partners/${segment(partnerId)}/suspend`,
      replayable: true,
      parse: asIs<Partner>,
    });
  }

  /** Reactivate a suspended partner. */
  reactivatePartner(partnerId: string): Promise<Partner> {
    return this.send({
      operationId: "adminReactivatePartner",
      method: "POST",
      path: `${ADMIN}/partners/${segment(partnerId)}/reactivate`,
      replayable: true,
      parse: asIs<Partner>,
    });
  }

  /** Delete a partner: its keys are revoked and its chargers unassigned. */
  deletePartner(partnerId: string): Promise<PartnerDeleted> {
    return this.send({
      operationId: "adminDeletePartner",
      method: "DELETE",
      path: `${ADMIN}/partners/${segment(partnerId)}`,
      replayable: true,
      parse: asIs<PartnerDeleted>,
    });
  }

  /** A new API key for a partner; `key` is shown this once. */
  issueKey(partnerId: string, options: { name?: string; expiresAt?: Date } = {}): Promise<IssuedKey> {
    return this.send({
      operationId: "adminIssueKey",
      method: "POST",
      path: `${ADMIN}/partners/${segment(partnerId)}/keys`,
      body: body({ name: options.name, expiresAt: options.expiresAt?.toISOString() }),
      replayable: false,
      parse: asIs<IssuedKey>,
    });
  }

  /** A partner's API keys (prefixes only), newest first. */
  listPartnerKeys(partnerId: string): Promise<KeyList> {
    return this.send({
      operationId: "adminListPartnerKeys",
      method: "GET",
      path: `${ADMIN}/partners/${segment(partnerId)}/keys`,
      replayable: true,
      parse: asIs<KeyList>,
    });
  }

  /** API keys starting with `prefix` (e.g. a leaked key a scanner reported). */
  findKeys(prefix: string): Promise<KeyList> {
    return this.send({
      operationId: "adminFindKeys",
      method: "GET",
      path: `${ADMIN}/keys`,
      query: { prefix },
      replayable: true,
      parse: asIs<KeyList>,
    });
  }

  /** A new key replacing `keyId`, which keeps working for `overlapSeconds`. */
  rotateKey(
    keyId: string,
    options: { overlapSeconds?: number; expiresAt?: Date } = {},
  ): Promise<IssuedKey> {
    return this.send({
      operationId: "adminRotateKey",
      method: "POST",
      path: `${ADMIN}/keys/${segment(keyId)}/rotate`,
      body: body({
        overlapSeconds: options.overlapSeconds,
        expiresAt: options.expiresAt?.toISOString(),
      }),
      replayable: false,
      parse: asIs<IssuedKey>,
    });
  }

  /** Revoke a key: 401 on every gateway at once. */
  revokeKey(keyId: string): Promise<ApiKey> {
    return this.send({
      operationId: "adminRevokeKey",
      method: "POST",
      path: `${ADMIN}/keys/${segment(keyId)}/revoke`,
      replayable: true,
      parse: asIs<ApiKey>,
    });
  }

  /** Register a charger (and assign it); a generated password is answered once. */
  registerCharger(charger: {
    chargerId: string;
    protocol: "ocpp1.6" | "ocpp2.0.1";
    partnerId?: string;
    password?: string;
    noPassword?: boolean;
  }): Promise<RegisteredCharger> {
    return this.send({
      operationId: "adminRegisterCharger",
      method: "POST",
      path: `${ADMIN}/chargers`,
      body: body(charger),
      replayable: false,
      parse: asIs<RegisteredCharger>,
    });
  }

  /**
   * Registered chargers with their live state, page after page: a partner's, those whose id
   * contains `search` (any case), in one of the `status`es, connected or not (`online`).
   */
  listChargers(
    options: {
      partnerId?: string;
      includeRemoved?: boolean;
      search?: string;
      status?: ChargerStatus[];
      online?: boolean;
      pageSize?: number;
    } = {},
  ): AsyncIterable<AdminCharger> {
    return this.t.pages(
      (cursor) => ({
        operationId: "adminListChargers",
        method: "GET",
        path: `${ADMIN}/chargers`,
        query: query({
          partnerId: options.partnerId,
          includeRemoved: options.includeRemoved || undefined,
          q: options.search,
          status: options.status,
          online: options.online,
          limit: options.pageSize,
          cursor,
        }),
        replayable: true,
        parse: asIs<AdminChargerPage>,
      }),
      (page) => page.chargers,
      (page) => page.nextCursor,
    );
  }

  /** A registered charger. */
  getCharger(chargerId: string): Promise<AdminChargerDetail> {
    return this.send({
      operationId: "adminGetCharger",
      method: "GET",
      path: `${ADMIN}/chargers/${segment(chargerId)}`,
      replayable: true,
      parse: asIs<AdminChargerDetail>,
    });
  }

  /**
   * Set, regenerate (no options) or remove (`noPassword`) a charger's password; a generated
   * one is answered once. The charger's next connection must use it.
   */
  setChargerPassword(
    chargerId: string,
    options: { password?: string; noPassword?: boolean } = {},
  ): Promise<RegisteredCharger> {
    return this.send({
      operationId: "adminSetChargerPassword",
      method: "PUT",
      path: `${ADMIN}/chargers/${segment(chargerId)}/password`,
      body: body(options),
      replayable: false,
      parse: asIs<RegisteredCharger>,
    });
  }

  /** A charger's status changes in the window (default: the last 24 h), newest first. */
  statusEvents(chargerId: string, options: HistoryOptions = {}): AsyncIterable<StatusChange> {
    return this.t.pages(
      (cursor) => ({
        operationId: "adminChargerStatusEvents",
        method: "GET",
        path: `${ADMIN}/chargers/${segment(chargerId)}/status-events`,
        query: query({ from: options.from, to: options.to, limit: options.pageSize, cursor }),
        replayable: true,
        parse: asIs<StatusChangePage>,
      }),
      (page) => page.statusEvents,
      (page) => page.nextCursor,
    );
  }

  /**
   * A charger's meter values in the window (default: the last 24 h), oldest first; with
   * `bucketSeconds` averaged per bucket, connector, measurand and phase (for charts).
   */
  meterValues(
    chargerId: string,
    options: HistoryOptions & { measurand?: string; bucketSeconds?: number } = {},
  ): AsyncIterable<MeterValue> {
    return this.t.pages(
      (cursor) => ({
        operationId: "adminChargerMeterValues",
        method: "GET",
        path: `${ADMIN}/chargers/${segment(chargerId)}/meter-values`,
        query: query({
          from: options.from,
          to: options.to,
          measurand: options.measurand,
          bucketSeconds: options.bucketSeconds,
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

  /** A charger's sessions that started in the window, newest first, whoever owned it. */
  sessions(chargerId: string, options: HistoryOptions = {}): AsyncIterable<Session> {
    return this.t.pages(
      (cursor) => ({
        operationId: "adminChargerSessions",
        method: "GET",
        path: `${ADMIN}/chargers/${segment(chargerId)}/sessions`,
        query: query({ from: options.from, to: options.to, limit: options.pageSize, cursor }),
        replayable: true,
        parse: asIs<SessionPage>,
      }),
      (page) => page.sessions,
      (page) => page.nextCursor,
    );
  }

  /** Every command sent to a charger, partners' and operators', newest first. */
  chargerCommands(chargerId: string, options: { pageSize?: number } = {}): AsyncIterable<AdminCommand> {
    return this.t.pages(
      (cursor) => ({
        operationId: "adminChargerCommands",
        method: "GET",
        path: `${ADMIN}/chargers/${segment(chargerId)}/commands`,
        query: query({ limit: options.pageSize, cursor }),
        replayable: true,
        parse: asIs<AdminCommandPage>,
      }),
      (page) => page.commands,
      (page) => page.nextCursor,
    );
  }

  /**
   * The live feed of every charger (or only `chargerIds`, up to 100), every command included;
   * it reconnects by itself with `Last-Event-ID`.
   */
  events(options: AdminEventsOptions = {}): EventStream {
    return new EventStream(this.t, options, `${ADMIN}/events`);
  }

  /** Storage health, the csms nodes with their chargers, the recorders' lag. */
  system(): Promise<SystemState> {
    return this.send({
      operationId: "adminSystem",
      method: "GET",
      path: `${ADMIN}/system`,
      replayable: true,
      parse: asIs<SystemState>,
    });
  }

  /** Decommission a charger: REMOVED for its partner, refused by csms from now on. */
  decommissionCharger(chargerId: string): Promise<AdminCharger> {
    return this.send({
      operationId: "adminDecommissionCharger",
      method: "DELETE",
      path: `${ADMIN}/chargers/${segment(chargerId)}`,
      replayable: false,
      parse: asIs<AdminCharger>,
    });
  }

  /** Assign a charger to a partner (within its quota). */
  assignCharger(chargerId: string, partnerId: string): Promise<AdminCharger> {
    return this.send({
      operationId: "adminAssignCharger",
      method: "PUT",
      path: `${ADMIN}/chargers/${segment(chargerId)}/partner`,
      body: { partnerId },
      replayable: true,
      parse: asIs<AdminCharger>,
    });
  }

  /** Unassign a charger from its partner. */
  unassignCharger(chargerId: string): Promise<AdminCharger> {
    return this.send({
      operationId: "adminUnassignCharger",
      method: "DELETE",
      path: `${ADMIN}/chargers/${segment(chargerId)}/partner`,
      replayable: true,
      parse: asIs<AdminCharger>,
    });
  }

  /**
   * Send any OCPP message a central system sends, in the charger's version: `action` (e.g.
   * `"Reset"`, `"UpdateFirmware"`) with `params`, its request payload. The payload is checked
   * against the official schema first: an `APIError` with status 422 when it breaks it
   * (nothing is sent). By default the answer is the charger's; other outcomes throw
   * `ChargerOffline`, `CommandNotApplicable`, `CommandTimeout`, `ChargerError` (for a
   * CALLERROR its code and description are in `error.body.ocppError`) or
   * `ServiceUnavailable`. With `wait: false` the answer is PENDING at once and the outcome
   * follows at {@link getCommand}. Never repeated after a lost answer (no Idempotency-Key).
   */
  sendCommand(
    chargerId: string,
    action: OcppAction,
    params?: Record<string, unknown>,
    options?: { wait?: true },
  ): Promise<OperatorCommandResult>;
  sendCommand(
    chargerId: string,
    action: OcppAction,
    params: Record<string, unknown>,
    options: { wait: false },
  ): Promise<OperatorCommandAccepted>;
  sendCommand(
    chargerId: string,
    action: OcppAction,
    params: Record<string, unknown> = {},
    options: { wait?: boolean } = {},
  ): Promise<OperatorCommandResult | OperatorCommandAccepted> {
    return this.send({
      operationId: "adminSendCommand",
      method: "POST",
      path: `${ADMIN}/chargers/${segment(chargerId)}/commands`,
      query: options.wait === false ? { mode: "async" } : {},
      body: { action, params },
      replayable: false,
      parse: asIs<OperatorCommandResult | OperatorCommandAccepted>,
    });
  }

  /** Any command, an operator's or a partner's: its state (PENDING until known) and the answer. */
  getCommand(commandId: string): Promise<Command> {
    return this.send({
      operationId: "adminGetCommand",
      method: "GET",
      path: `${ADMIN}/commands/${segment(commandId)}`,
      replayable: true,
      parse: asIs<Command>,
    });
  }

  /**
   * Send a charger its local authorization list from the token store: the operator's tokens
   * and its partner's. Default: `"Differential"` (only what changed) once it holds a list,
   * `"Full"` before; a charger answering VersionMismatch needs a Full update. Failures throw as
   * for {@link sendCommand}.
   */
  sendLocalList(
    chargerId: string,
    options: { updateType?: "Full" | "Differential" } = {},
  ): Promise<LocalListSent> {
    return this.send({
      operationId: "adminSendLocalList",
      method: "POST",
      path: `${ADMIN}/chargers/${segment(chargerId)}/local-list`,
      body: body(options),
      replayable: false,
      parse: asIs<LocalListSent>,
    });
  }

  /** The local authorization list a charger holds, as it last accepted it. */
  getLocalList(chargerId: string): Promise<LocalList> {
    return this.send({
      operationId: "adminGetLocalList",
      method: "GET",
      path: `${ADMIN}/chargers/${segment(chargerId)}/local-list`,
      replayable: true,
      parse: asIs<LocalList>,
    });
  }

  /** Register a token (RFID idTag / idToken); without `partnerId` the operator's own. */
  createToken(token: TokenCreate): Promise<Token> {
    return this.send({
      operationId: "adminCreateToken",
      method: "POST",
      path: `${ADMIN}/tokens`,
      body: body(token),
      replayable: false,
      parse: asIs<Token>,
    });
  }

  /** Tokens in id order, page after page. */
  listTokens(
    options: { partnerId?: string; status?: TokenStatus; groupId?: string; pageSize?: number } = {},
  ): AsyncIterable<Token> {
    return this.t.pages(
      (cursor) => ({
        operationId: "adminListTokens",
        method: "GET",
        path: `${ADMIN}/tokens`,
        query: query({
          partnerId: options.partnerId,
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

  /** A token, whatever the case of its id. */
  getToken(tokenId: string): Promise<Token> {
    return this.send({
      operationId: "adminGetToken",
      method: "GET",
      path: `${ADMIN}/tokens/${segment(tokenId)}`,
      replayable: true,
      parse: asIs<Token>,
    });
  }

  /** Change what is given; null clears an expiry, a group or the partner. */
  updateToken(tokenId: string, changes: TokenUpdate): Promise<Token> {
    return this.send({
      operationId: "adminUpdateToken",
      method: "PATCH",
      path: `${ADMIN}/tokens/${segment(tokenId)}`,
      body: changes,
      replayable: true,
      parse: asIs<Token>,
    });
  }

  /** Delete a token: unknown to every csms node from now on. */
  deleteToken(tokenId: string): Promise<Token> {
    return this.send({
      operationId: "adminDeleteToken",
      method: "DELETE",
      path: `${ADMIN}/tokens/${segment(tokenId)}`,
      replayable: true,
      parse: asIs<Token>,
    });
  }

  /** Audit log entries, newest first, page after page. */
  auditLog(
    options: {
      actor?: string;
      action?: string;
      target?: string;
      from?: Date;
      to?: Date;
      pageSize?: number;
    } = {},
  ): AsyncIterable<AuditEntry> {
    return this.t.pages(
      (cursor) => ({
        operationId: "adminAuditLog",
        method: "GET",
        path: `${ADMIN}/audit`,
        query: query({
          actor: options.actor,
          action: options.action,
          target: options.target,
          from: options.from,
          to: options.to,
          limit: options.pageSize,
          cursor,
        }),
        replayable: true,
        parse: asIs<AuditPage>,
      }),
      (page) => page.entries,
      (page) => page.nextCursor,
    );
  }
}
