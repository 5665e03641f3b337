"""The messages a 2.0.1 central system has a station display (SetDisplayMessage and its
family). No I/O here."""

from __future__ import annotations

from collections.abc import Collection

from shared.framing import Payload

# What the simulated display shows: text, not markup or links.
SUPPORTED_FORMATS = ("ASCII", "UTF8")
SUPPORTED_PRIORITIES = ("AlwaysFront", "InFront", "NormalCycle")
SUPPORTED_STATES = ("Charging", "Faulted", "Idle", "Unavailable")
MAX_MESSAGES = 20


class DisplayMessages:
    def __init__(self) -> None:
        self.messages: dict[int, Payload] = {}  # id -> MessageInfoType

    def set(self, message: Payload, transactions: Collection[object]) -> str:
        """SetDisplayMessage; `transactions`: the ids of the running transactions."""
        if message["message"]["format"] not in SUPPORTED_FORMATS:
            return "NotSupportedMessageFormat"
        if message["priority"] not in SUPPORTED_PRIORITIES:
            return "NotSupportedPriority"
        if message.get("state", "Idle") not in SUPPORTED_STATES:
            return "NotSupportedState"
        if "transactionId" in message and message["transactionId"] not in transactions:
            return "UnknownTransaction"
        if message["id"] not in self.messages and len(self.messages) >= MAX_MESSAGES:
            return "Rejected"
        self.messages[message["id"]] = message  # the same id replaces the message
        return "Accepted"

    def select(
        self, ids: Collection[int] | None, priority: str | None, state: str | None
    ) -> list[Payload]:
        """The messages a GetDisplayMessages asks for."""
        return [
            m
            for m in self.messages.values()
            if (ids is None or m["id"] in ids)
            and (priority is None or m["priority"] == priority)
            and (state is None or m.get("state") == state)
        ]

    def clear(self, message_id: int) -> str:
        return "Accepted" if self.messages.pop(message_id, None) is not None else "Unknown"

    def end_transaction(self, transaction_id: object) -> None:
        """A message about a transaction is shown no longer than the transaction runs."""
        self.messages = {
            k: m for k, m in self.messages.items() if m.get("transactionId") != transaction_id
        }
