/**
 * The API's types, named: every one is an alias of a schema in the generated `schema.ts`
 * (from the gateway's OpenAPI document), so they cannot drift from what the API sends.
 */
import type { components, operations } from "./schema.js";

type Schemas = components["schemas"];

/** The seven partner statuses. */
export type ChargerStatus = Schemas["PartnerStatus"];
/** A connector (OCPP 1.6) or EVSE (OCPP 2.0.1) of a charger. */
export type Connector = Schemas["ConnectorJson"];
/** A charger's live state: status, connectors, meter and timestamps. */
export type Charger = Schemas["ChargerJson"];
export type ChargerPage = Schemas["ChargerPage"];
/** The chargers found, and the ids that are unknown or not yours (indistinguishably). */
export type BatchStatus = Schemas["BatchStatusJson"];
/** The charger's answer to a command sent synchronously (`replayed`: an Idempotency-Key replay). */
export type CommandResult = Schemas["CommandResultJson"] & { replayed: boolean };
/** A command taken for asynchronous execution: its outcome follows. */
export type CommandAccepted = Schemas["CommandAcceptedJson"] & { replayed: boolean };
/** A command you sent and, once known, its outcome. */
export type Command = Schemas["CommandJson"];
/** A command's outcome (OCPI CommandResult vocabulary); PENDING until it is known. */
export type CommandState = Schemas["CommandJson"]["state"];
/** How a charger restarts: Soft once idle (2.0.1 OnIdle), Hard at once (2.0.1 Immediate). */
export type ResetType = Schemas["ResetRequest"]["type"];
export type BatchItem = Schemas["BatchItemJson"];
/** Every charger's outcome in a batch command. */
export type BatchControlResult = Schemas["BatchControlJson"] & { replayed: boolean };
export type MeterValue = Schemas["MeterValueJson"];
export type MeterPage = Schemas["MeterPage"];
/** A charging session (OCPP transaction). */
export type Session = Schemas["SessionJson"];
export type SessionPage = Schemas["SessionPage"];
export type Health = Schemas["HealthJson"];
export type Ready = Schemas["ReadyJson"];
/** The standard error body every error answer carries. */
export type ErrorBody = Schemas["ErrorBody"];

/** `status`: a connector's status changed (connector 0 is the whole 1.6 charger). */
export type StatusEvent = { type: "status"; id: string | null; data: Schemas["StatusEventJson"] };
/** `connection`: the charger connected or disconnected. */
export type ConnectionEvent = {
  type: "connection";
  id: string | null;
  data: Schemas["ConnectionEventJson"];
};
/** `session`: a charging session started or stopped. */
export type SessionEvent = {
  type: "session";
  id: string | null;
  data: Schemas["SessionEventJson"];
};
/** `command`: a command of yours ended. */
export type CommandEvent = {
  type: "command";
  id: string | null;
  data: Schemas["CommandEventJson"];
};
/** `gap`: events after your Last-Event-ID may be lost (older than the retention). */
export type GapEvent = { type: "gap"; id: string | null; data: { message: string } };
/** An event type this version of the client does not know: `event` is its name. */
export type UnknownEvent = { type: "unknown"; event: string; id: string | null; data: unknown };
/** Anything `events()` yields; switch on `type`. */
export type Event =
  | StatusEvent
  | ConnectionEvent
  | SessionEvent
  | CommandEvent
  | GapEvent
  | UnknownEvent;
export type EventType = "status" | "connection" | "session" | "command";

export type Partner = Schemas["PartnerJson"];
export type PartnerPage = Schemas["PartnerPage"];
export type PartnerDeleted = Schemas["PartnerDeletedJson"];
export type ApiKey = Schemas["KeyJson"];
export type IssuedKey = Schemas["IssuedKeyJson"];
export type KeyList = Schemas["KeyListJson"];
export type AdminCharger = Schemas["AdminChargerJson"];
export type AdminChargerDetail = Schemas["AdminChargerDetailJson"];
export type AdminChargerPage = Schemas["AdminChargerPage"];
export type RegisteredCharger = Schemas["RegisteredChargerJson"];
/** A message a central system sends, in OCPP 1.6 or 2.0.1 (the charger's version must have it). */
export type OcppAction = Schemas["OperatorCommand"]["action"];
/** The charger's answer to an operator's OCPP command. */
export type OperatorCommandResult = Schemas["OperatorCommandResultJson"];
/** An operator's OCPP command taken to run in the background: its outcome follows. */
export type OperatorCommandAccepted = Schemas["OperatorCommandAcceptedJson"];
/** A local authorization list sent to a charger (SendLocalList), and its answer. */
export type LocalListSent = Schemas["LocalListSentJson"];
export type LocalListEntry = Schemas["LocalListEntryJson"];
/** The local authorization list a charger holds, as it last accepted it. */
export type LocalList = Schemas["LocalListJson"];
export type AuditEntry = Schemas["AuditEntryJson"];
export type AuditPage = Schemas["AuditPage"];
/** An operator console session: the CSRF token its changes must send. */
export type ConsoleSession = Schemas["ConsoleSessionJson"];
export type ConsoleSessionEnded = Schemas["ConsoleSessionEndedJson"];
/** A connector's status notification, as recorded in the history. */
export type StatusChange = Schemas["StatusChangeJson"];
export type StatusChangePage = Schemas["StatusChangePage"];
/** A command as operators see it: who sent it, and what it asked for. */
export type AdminCommand = Schemas["AdminCommandJson"];
export type AdminCommandPage = Schemas["AdminCommandPage"];
/** A csms node and the registered chargers connected to it. */
export type CsmsNode = Schemas["NodeJson"];
/** Storage health, csms nodes with their chargers, recorder lag. */
export type SystemState = Schemas["SystemJson"];
export type PartnerCreate = Schemas["PartnerCreate"];
export type PartnerUpdate = Schemas["PartnerUpdate"];
export type ChargerRegister = Schemas["ChargerRegister"];
/** A token (RFID idTag / OCPP 2.0.1 idToken) that may start charging sessions. */
export type Token = Schemas["TokenJson"];
export type TokenPage = Schemas["TokenPage"];
/** Accepted may charge; Blocked and Expired are refused. */
export type TokenStatus = Schemas["TokenJson"]["status"];
export type TokenCreate = Schemas["TokenCreate"];
export type TokenUpdate = Schemas["TokenUpdate"];
export type PartnerTokenPut = Schemas["PartnerTokenPut"];
export type PartnerTokenUpdate = Schemas["PartnerTokenUpdate"];

/** The id of every operation of the OpenAPI document. */
export type OperationId = keyof operations;
