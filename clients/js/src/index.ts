/**
 * JavaScript/TypeScript client for the EV charging partner API. No dependencies beyond the
 * platform's `fetch` (Node 18+ and browsers).
 *
 * ```ts
 * import { EVChargingClient } from "evcharging-client";
 * const client = new EVChargingClient(process.env.EVCS_API_KEY!, { baseUrl: "https://api.example.com" });
 * await client.control("CP-0001", "on");
 * ```
 */
export { EVChargingAdmin, type AdminOptions } from "./admin.js";
export {
  type ChargerCommandOptions,
  type CommandOptions,
  type ControlOptions,
  EVChargingClient,
  type HistoryOptions,
  type UnlockOptions,
} from "./client.js";
export { type AdminEventsOptions, type EventsOptions, EventStream } from "./event-stream.js";
export * from "./errors.js";
export { type ClientOptions, type FetchLike, VERSION } from "./http.js";
export { DEFAULT_RETRY, type RetryPolicy } from "./retry.js";
export type * from "./types.js";
export type { components, operations, paths } from "./schema.js";
