"""The operator's admin API, asynchronously: :class:`AsyncEVChargingAdmin`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, overload

import httpx

from evcharging_client import _http
from evcharging_client import models as m
from evcharging_client import operations as op
from evcharging_client._async_transport import AsyncTransport
from evcharging_client.async_event_stream import AsyncEventStream
from evcharging_client.retry import RetryPolicy


class AsyncEVChargingAdmin:
    """The operator's admin API, asynchronously: partners, API keys, chargers with their
    history and live events, OCPP commands, tokens, audit log, the system, console sessions.

    ``admin_token`` is the gateway's ``EVCS_ADMIN_TOKEN``; ``actor`` names you in the audit log.
    """

    def __init__(
        self,
        admin_token: str,
        base_url: str = "http://127.0.0.1:8080",
        *,
        actor: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._t = AsyncTransport(
            base_url, _http.admin_headers(admin_token, actor), timeout, retry, transport
        )

    async def close(self) -> None:
        """Close the connections."""
        await self._t.close()

    async def __aenter__(self) -> AsyncEVChargingAdmin:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def create_session(self, *, actor: str | None = None) -> m.ConsoleSession:
        """Sign in to the operator console with the admin token: the answer sets the session
        cookie (kept by this client) and holds the CSRF token a browser sends with changes.
        What the session does is audited as ``console:<actor>``."""
        return await self._t.send(op.admin_create_session(actor))

    async def get_session(self) -> m.ConsoleSession:
        """The console session of this client's cookie (:class:`NotFound` without one)."""
        return await self._t.send(op.admin_get_session())

    async def end_session(self) -> m.ConsoleSessionEnded:
        """Sign out: end the console session of this client's cookie, if any."""
        return await self._t.send(op.admin_end_session())

    async def create_partner(
        self,
        name: str,
        *,
        partner_id: str | None = None,
        charger_quota: int | None = None,
        rate_limit_minute: int | None = None,
        rate_limit_hour: int | None = None,
    ) -> m.Partner:
        """Create a partner; without limits it gets the gateway's defaults."""
        return await self._t.send(
            op.admin_create_partner(
                name, partner_id, charger_quota, rate_limit_minute, rate_limit_hour
            )
        )

    def list_partners(
        self, *, status: Literal["active", "suspended"] | None = None, page_size: int | None = None
    ) -> AsyncIterator[m.Partner]:
        """Every partner, page after page."""
        return self._t.pages(
            lambda cursor: op.admin_list_partners(cursor, status, page_size),
            lambda page: page.partners,
            lambda page: page.next_cursor,
        )

    async def get_partner(self, partner_id: str) -> m.Partner:
        """A partner."""
        return await self._t.send(op.admin_get_partner(partner_id))

    async def update_partner(
        self,
        partner_id: str,
        *,
        name: str = op.UNSET,
        charger_quota: int | None = op.UNSET,
        rate_limit_minute: int | None = op.UNSET,
        rate_limit_hour: int | None = op.UNSET,
    ) -> m.Partner:
        """Change what is given; None resets a quota (no cap) or a limit (the default)."""
        return await self._t.send(
            op.admin_update_partner(
                partner_id,
                op.given(
                    name=name,
                    chargerQuota=charger_quota,
                    rateLimitMinute=rate_limit_minute,
                    rateLimitHour=rate_limit_hour,
                ),
            )
        )

    async def suspend_partner(self, partner_id: str) -> m.Partner:
        """Suspend a partner: its keys get 403 on every gateway at once."""
        return await self._t.send(op.admin_suspend_partner(partner_id))

    async def reactivate_partner(self, partner_id: str) -> m.Partner:
        """Reactivate a suspended partner."""
        return await self._t.send(op.admin_reactivate_partner(partner_id))

    async def delete_partner(self, partner_id: str) -> m.PartnerDeleted:
        """Delete a partner: its keys are revoked and its chargers unassigned."""
        return await self._t.send(op.admin_delete_partner(partner_id))

    async def issue_key(
        self, partner_id: str, *, name: str | None = None, expires_at: datetime | None = None
    ) -> m.IssuedKey:
        """A new API key for a partner; ``key`` is shown this once."""
        return await self._t.send(op.admin_issue_key(partner_id, name, expires_at))

    async def list_partner_keys(self, partner_id: str) -> m.KeyList:
        """A partner's API keys (prefixes only), newest first."""
        return await self._t.send(op.admin_list_partner_keys(partner_id))

    async def find_keys(self, prefix: str) -> m.KeyList:
        """API keys starting with ``prefix`` (e.g. a leaked key a scanner reported)."""
        return await self._t.send(op.admin_find_keys(prefix))

    async def rotate_key(
        self, key_id: str, *, overlap_seconds: int | None = None, expires_at: datetime | None = None
    ) -> m.IssuedKey:
        """A new key replacing ``key_id``, which keeps working for ``overlap_seconds``."""
        return await self._t.send(op.admin_rotate_key(key_id, overlap_seconds, expires_at))

    async def revoke_key(self, key_id: str) -> m.ApiKey:
        """Revoke a key: 401 on every gateway at once."""
        return await self._t.send(op.admin_revoke_key(key_id))

    async def register_charger(
        self,
        charger_id: str,
        protocol: Literal["ocpp1.6", "ocpp2.0.1"],
        *,
        partner_id: str | None = None,
        password: str | None = None,
        no_password: bool = False,
    ) -> m.RegisteredCharger:
        """Register a charger (and assign it); a generated password is answered once."""
        return await self._t.send(
            op.admin_register_charger(charger_id, protocol, partner_id, password, no_password)
        )

    def list_chargers(
        self,
        *,
        partner_id: str | None = None,
        include_removed: bool = False,
        search: str | None = None,
        status: Iterable[m.ChargerStatus] | None = None,
        online: bool | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[m.AdminCharger]:
        """Registered chargers with their live state, page after page: a partner's, those
        whose id contains ``search`` (any case), in one of the statuses ``status`` names,
        connected or not (``online``)."""
        statuses = list(status) if status is not None else None
        return self._t.pages(
            lambda cursor: op.admin_list_chargers(
                cursor, partner_id, include_removed, page_size, search, statuses, online
            ),
            lambda page: page.chargers,
            lambda page: page.next_cursor,
        )

    async def get_charger(self, charger_id: str) -> m.AdminChargerDetail:
        """A registered charger, with its live state and what it last reported."""
        return await self._t.send(op.admin_get_charger(charger_id))

    def status_events(
        self,
        charger_id: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[m.StatusChange]:
        """A charger's status changes in [start, end) (default: the last 24 h), newest first,
        whoever owned it."""
        return self._t.pages(
            lambda cursor: op.admin_charger_status_events(
                charger_id, cursor, start, end, page_size
            ),
            lambda page: page.status_events,
            lambda page: page.next_cursor,
        )

    def meter_values(
        self,
        charger_id: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        measurand: str | None = None,
        bucket_seconds: int | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[m.MeterValue]:
        """A charger's meter values in [start, end) (default: the last 24 h), oldest first;
        with ``bucket_seconds`` averaged per bucket, connector, measurand and phase."""
        return self._t.pages(
            lambda cursor: op.admin_charger_meter_values(
                charger_id, cursor, start, end, measurand, bucket_seconds, page_size
            ),
            lambda page: page.meter_values,
            lambda page: page.next_cursor,
        )

    def sessions(
        self,
        charger_id: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[m.Session]:
        """A charger's sessions that started in [start, end) (default: the last 24 h),
        newest first, whoever owned it."""
        return self._t.pages(
            lambda cursor: op.admin_charger_sessions(charger_id, cursor, start, end, page_size),
            lambda page: page.sessions,
            lambda page: page.next_cursor,
        )

    def charger_commands(
        self, charger_id: str, *, page_size: int | None = None
    ) -> AsyncIterator[m.AdminCommand]:
        """Every command sent to a charger, partners' and operators', newest first."""
        return self._t.pages(
            lambda cursor: op.admin_charger_commands(charger_id, cursor, page_size),
            lambda page: page.commands,
            lambda page: page.next_cursor,
        )

    def events(
        self,
        *,
        types: Iterable[Literal["status", "connection", "session", "command"]] | None = None,
        charger_ids: Iterable[str] | None = None,
        last_event_id: str | None = None,
        max_reconnects: int | None = None,
    ) -> AsyncEventStream:
        """The live feed of every charger (or only ``charger_ids``, up to 100), every command
        included: an :class:`AsyncEventStream` that reconnects by itself with
        ``Last-Event-ID``."""
        return AsyncEventStream(
            self._t,
            types,
            last_event_id,
            max_reconnects,
            path=op.ADMIN_EVENTS_PATH,
            charger_ids=charger_ids,
        )

    async def system(self) -> m.SystemState:
        """Storage health, the csms nodes with their chargers, the recorders' lag."""
        return await self._t.send(op.admin_system())

    async def decommission_charger(self, charger_id: str) -> m.AdminCharger:
        """Decommission a charger: REMOVED for its partner, refused by csms from now on."""
        return await self._t.send(op.admin_decommission_charger(charger_id))

    async def set_charger_password(
        self, charger_id: str, *, password: str | None = None, no_password: bool = False
    ) -> m.RegisteredCharger:
        """Set, regenerate (neither argument) or remove a charger's password; a generated one
        is answered once. The charger's next connection must use it."""
        return await self._t.send(op.admin_set_charger_password(charger_id, password, no_password))

    async def assign_charger(self, charger_id: str, partner_id: str) -> m.AdminCharger:
        """Assign a charger to a partner (within its quota)."""
        return await self._t.send(op.admin_assign_charger(charger_id, partner_id))

    async def unassign_charger(self, charger_id: str) -> m.AdminCharger:
        """Unassign a charger from its partner."""
        return await self._t.send(op.admin_unassign_charger(charger_id))

    @overload
    async def send_command(
        self,
        charger_id: str,
        action: str,
        params: Mapping[str, Any] | None = None,
        *,
        wait: Literal[True] = True,
    ) -> m.OperatorCommandResult: ...

    @overload
    async def send_command(
        self,
        charger_id: str,
        action: str,
        params: Mapping[str, Any] | None = None,
        *,
        wait: Literal[False],
    ) -> m.OperatorCommandAccepted: ...

    async def send_command(
        self,
        charger_id: str,
        action: str,
        params: Mapping[str, Any] | None = None,
        *,
        wait: bool = True,
    ) -> m.OperatorCommandResult | m.OperatorCommandAccepted:
        """Send any OCPP message a central system sends, in the charger's version: ``action``
        (e.g. ``"Reset"``, ``"UpdateFirmware"``) with ``params``, its request payload.

        The payload is checked against the official schema first: an :class:`APIError` with
        status 422 and the schema error when it breaks it (nothing is sent). With
        ``wait=True`` the answer is the charger's; other outcomes raise
        :class:`ChargerOffline`, :class:`CommandNotApplicable`, :class:`CommandTimeout`,
        :class:`ChargerError` (for a CALLERROR its code and description are in
        ``error.body["ocppError"]``) or :class:`ServiceUnavailable`, with ``command_id`` and
        ``outcome``. With ``wait=False`` the answer comes at once (PENDING) and the outcome
        follows at :meth:`get_command`. Never repeated after a lost answer (it has no
        Idempotency-Key).
        """
        return await self._t.send(op.admin_send_command(charger_id, action, params, wait))

    async def get_command(self, command_id: str) -> m.Command:
        """Any command's state (PENDING until known) and the charger's answer: an operator's or
        any partner's."""
        return await self._t.send(op.admin_get_command(command_id))

    async def send_local_list(
        self, charger_id: str, update_type: Literal["Full", "Differential"] | None = None
    ) -> m.LocalListSent:
        """Send a charger its local authorization list from the token store: the operator's
        tokens and its partner's. Default: ``"Differential"`` (only what changed) once it holds
        a list, ``"Full"`` before; a charger answering VersionMismatch needs a Full update.
        Failures raise as for :meth:`send_command`."""
        return await self._t.send(op.admin_send_local_list(charger_id, update_type))

    async def get_local_list(self, charger_id: str) -> m.LocalList:
        """The local authorization list a charger holds, as it last accepted it."""
        return await self._t.send(op.admin_get_local_list(charger_id))

    async def create_token(
        self,
        token_id: str,
        status: m.TokenStatus = "Accepted",
        *,
        type: str | None = None,
        expires_at: datetime | None = None,
        group_id: str | None = None,
        partner_id: str | None = None,
    ) -> m.Token:
        """Register a token (RFID idTag / idToken); without ``partner_id`` the operator's own."""
        fields = op.given(
            status=status,
            type=type or op.UNSET,
            expiresAt=expires_at or op.UNSET,
            groupId=group_id or op.UNSET,
            partnerId=partner_id or op.UNSET,
        )
        return await self._t.send(op.admin_create_token(token_id, fields))

    def list_tokens(
        self,
        *,
        partner_id: str | None = None,
        status: m.TokenStatus | None = None,
        group_id: str | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[m.Token]:
        """Tokens in id order, page after page."""
        return self._t.pages(
            lambda cursor: op.admin_list_tokens(cursor, partner_id, status, group_id, page_size),
            lambda page: page.tokens,
            lambda page: page.next_cursor,
        )

    async def get_token(self, token_id: str) -> m.Token:
        """A token, whatever the case of its id."""
        return await self._t.send(op.admin_get_token(token_id))

    async def update_token(
        self,
        token_id: str,
        *,
        status: m.TokenStatus = op.UNSET,
        type: str = op.UNSET,
        expires_at: datetime | None = op.UNSET,
        group_id: str | None = op.UNSET,
        partner_id: str | None = op.UNSET,
    ) -> m.Token:
        """Change what is given; None clears an expiry, a group or the partner. The next
        Authorize on any csms node gets the new answer."""
        return await self._t.send(
            op.admin_update_token(
                token_id,
                op.given(
                    status=status,
                    type=type,
                    expiresAt=expires_at,
                    groupId=group_id,
                    partnerId=partner_id,
                ),
            )
        )

    async def delete_token(self, token_id: str) -> m.Token:
        """Delete a token: unknown to every csms node from now on."""
        return await self._t.send(op.admin_delete_token(token_id))

    def audit_log(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[m.AuditEntry]:
        """Audit log entries, newest first, page after page."""
        return self._t.pages(
            lambda cursor: op.admin_audit_log(cursor, actor, action, target, start, end, page_size),
            lambda page: page.entries,
            lambda page: page.next_cursor,
        )
