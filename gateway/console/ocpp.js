/**
 * The charger page's buttons as OCPP messages of the charger's own version, for the operator
 * command API ({action, params}); the gateway checks each against the official schema.
 */

export const V16 = "ocpp1.6";

export const RESET_TYPES = {
  "ocpp1.6": [["Soft", "Soft (restart the software)"], ["Hard", "Hard (reboot)"]],
  "ocpp2.0.1": [["OnIdle", "When idle"], ["Immediate", "Immediately"]],
};

export const TRIGGERS = {
  "ocpp1.6": [
    "StatusNotification",
    "BootNotification",
    "Heartbeat",
    "MeterValues",
    "FirmwareStatusNotification",
    "DiagnosticsStatusNotification",
  ],
  "ocpp2.0.1": [
    "StatusNotification",
    "BootNotification",
    "Heartbeat",
    "MeterValues",
    "TransactionEvent",
    "FirmwareStatusNotification",
    "LogStatusNotification",
  ],
};

/** Start a session on `connector` for the token `idTag`. */
export function start(protocol, connector, idTag) {
  if (protocol === V16) {
    return { action: "RemoteStartTransaction", params: { connectorId: connector, idTag } };
  }
  return {
    action: "RequestStartTransaction",
    params: {
      idToken: { idToken: idTag, type: "Central" },
      // the charger echoes it in the TransactionEvent that starts the session
      remoteStartId: Math.floor(Math.random() * 2 ** 31),
      evseId: connector,
    },
  };
}

/** Stop the session `transactionId` (as the charger's connector shows it). */
export function stop(protocol, transactionId) {
  if (protocol === V16) {
    return { action: "RemoteStopTransaction", params: { transactionId: Number(transactionId) } };
  }
  return { action: "RequestStopTransaction", params: { transactionId: String(transactionId) } };
}

export function reset(protocol, type) {
  return { action: "Reset", params: { type } };
}

/** Unlock a connector (1.6) or the first connector of an EVSE (2.0.1). */
export function unlock(protocol, connector) {
  if (protocol === V16) return { action: "UnlockConnector", params: { connectorId: connector } };
  return { action: "UnlockConnector", params: { evseId: connector, connectorId: 1 } };
}

/** Operative or Inoperative: one connector (EVSE), or the whole charger for 0. */
export function availability(protocol, connector, operative) {
  const kind = operative ? "Operative" : "Inoperative";
  if (protocol === V16) {
    return { action: "ChangeAvailability", params: { connectorId: connector, type: kind } };
  }
  const params = { operationalStatus: kind };
  if (connector > 0) params.evse = { id: connector };
  return { action: "ChangeAvailability", params };
}

/** Ask the charger to send a message now; connector 0: the whole charger. */
export function trigger(protocol, message, connector) {
  const params = { requestedMessage: message };
  if (connector > 0) {
    if (protocol === V16) params.connectorId = connector;
    else params.evse = message === "StatusNotification" ? { id: connector, connectorId: 1 } : { id: connector };
  }
  return { action: "TriggerMessage", params };
}

/** What the charger answered, in a few words. */
export function answerText(result) {
  const status = result.chargerResponse?.status;
  return status ? `${result.outcome} (the charger said ${status})` : result.outcome;
}
