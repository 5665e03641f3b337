"""Charging profiles (SetChargingProfile) and the composite schedule they make, for both OCPP
versions: the profiles are read into one shape, stored with the rules of the spec, and combined
the way GetCompositeSchedule reports. No I/O here."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from shared.framing import Payload
from simulators.clock import parse_iso

VOLTAGE = 230.0  # to convert between A and W limits
DEFAULT_PHASES = 3
DAY = 86400.0
WEEK = 7 * DAY

TX_PROFILE = "TxProfile"
TX_DEFAULT = "TxDefaultProfile"
# Limits of the whole charger: 1.6's name, 2.0.1's, and 2.0.1's limit from an outside system.
MAX_PURPOSES = frozenset(
    {"ChargePointMaxProfile", "ChargingStationMaxProfile", "ChargingStationExternalConstraints"}
)
# 2.0.1 K01.FR.22: only a local energy manager sets these, never the central system.
EXTERNAL = "ChargingStationExternalConstraints"
# Where this charger's profiles come from (2.0.1 chargingLimitSource): the central system.
SOURCE = "CSO"


@dataclass(frozen=True, slots=True)
class Period:
    start: int  # seconds from the start of the schedule
    limit: float
    phases: int | None = None


@dataclass(frozen=True, slots=True)
class Schedule:
    unit: str  # "A" or "W"
    periods: tuple[Period, ...]
    start: float | None = None  # startSchedule, epoch seconds
    duration: int | None = None


@dataclass(frozen=True, slots=True)
class Profile:
    id: int
    connector: int  # connector (1.6) or EVSE (2.0.1); 0 for the whole charger
    stack_level: int
    purpose: str
    kind: str  # Absolute, Relative or Recurring
    schedule: Schedule
    raw: Payload  # as the central system sent it, to report it back
    installed_at: float
    recurrency: str | None = None
    valid_from: float | None = None
    valid_to: float | None = None
    transaction_id: str | int | None = None


def _time(payload: Payload, key: str) -> float | None:
    value = payload.get(key)
    return None if value is None else parse_iso(value)


def _schedule(payload: Payload) -> Schedule:
    periods = tuple(
        Period(int(p["startPeriod"]), float(p["limit"]), p.get("numberPhases"))
        for p in payload["chargingSchedulePeriod"]
    )
    return Schedule(
        unit=payload["chargingRateUnit"],
        periods=periods,
        start=_time(payload, "startSchedule"),
        duration=payload.get("duration"),
    )


def profile_16(payload: Payload, connector: int, now: float) -> Profile:
    """A 1.6 csChargingProfiles (or RemoteStartTransaction chargingProfile)."""
    return Profile(
        id=payload["chargingProfileId"],
        connector=connector,
        stack_level=payload["stackLevel"],
        purpose=payload["chargingProfilePurpose"],
        kind=payload["chargingProfileKind"],
        schedule=_schedule(payload["chargingSchedule"]),
        raw=payload,
        installed_at=now,
        recurrency=payload.get("recurrencyKind"),
        valid_from=_time(payload, "validFrom"),
        valid_to=_time(payload, "validTo"),
        transaction_id=payload.get("transactionId"),
    )


def profile_201(payload: Payload, evse: int, now: float) -> Profile:
    """A 2.0.1 ChargingProfileType; of its schedules the first is used, as without ISO 15118
    the EV cannot pick another."""
    return Profile(
        id=payload["id"],
        connector=evse,
        stack_level=payload["stackLevel"],
        purpose=payload["chargingProfilePurpose"],
        kind=payload["chargingProfileKind"],
        schedule=_schedule(payload["chargingSchedule"][0]),
        raw=payload,
        installed_at=now,
        recurrency=payload.get("recurrencyKind"),
        valid_from=_time(payload, "validFrom"),
        valid_to=_time(payload, "validTo"),
        transaction_id=payload.get("transactionId"),
    )


class ProfileStore:
    """The profiles installed on one charger."""

    def __init__(
        self,
        connectors: int,
        max_stack_level: int = 10,
        max_periods: int = 24,
        max_profiles: int = 20,
    ) -> None:
        self.connectors = connectors
        self.max_stack_level = max_stack_level
        self.max_periods = max_periods
        self.max_profiles = max_profiles
        self.profiles: list[Profile] = []

    def install(
        self, profile: Profile, running: Mapping[int, object], need_tx_id: bool = False
    ) -> str:
        """Store a profile (Accepted) or refuse it (Rejected). `running` maps each connector
        with a transaction to its id (None while a 1.6 charger waits for it); `need_tx_id`:
        a TxProfile must name its transaction (2.0.1 SetChargingProfile)."""
        if not self._acceptable(profile, running, need_tx_id):
            return "Rejected"
        # The same id, or the same purpose and stack level on the same connector, is replaced.
        kept = [
            p
            for p in self.profiles
            if p.id != profile.id
            and (p.connector, p.purpose, p.stack_level)
            != (profile.connector, profile.purpose, profile.stack_level)
        ]
        if len(kept) >= self.max_profiles:
            return "Rejected"
        self.profiles = [*kept, profile]
        return "Accepted"

    def _acceptable(
        self, profile: Profile, running: Mapping[int, object], need_tx_id: bool
    ) -> bool:
        if not 0 <= profile.connector <= self.connectors:
            return False
        if profile.purpose == EXTERNAL:
            return False
        if profile.purpose in MAX_PURPOSES and profile.connector != 0:
            return False
        if profile.purpose == TX_PROFILE:
            # A TxProfile belongs to the transaction running on its connector.
            if profile.connector == 0 or profile.connector not in running:
                return False
            if profile.transaction_id is None:
                if need_tx_id:
                    return False
            elif profile.transaction_id != running[profile.connector]:
                return False
        if not 0 <= profile.stack_level <= self.max_stack_level:
            return False
        periods = profile.schedule.periods
        if not periods or len(periods) > self.max_periods or periods[0].start != 0:
            return False
        starts = [p.start for p in periods]
        return starts == sorted(set(starts))

    def clear(
        self,
        profile_id: int | None = None,
        connector: int | None = None,
        purpose: str | None = None,
        stack_level: int | None = None,
    ) -> bool:
        """Remove the profiles matching every criterion given (all of them if none is);
        whether any was removed."""
        removed = [
            p
            for p in self.profiles
            if (profile_id is None or p.id == profile_id)
            and (connector is None or p.connector == connector)
            and (purpose is None or p.purpose == purpose)
            and (stack_level is None or p.stack_level == stack_level)
        ]
        self.profiles = [p for p in self.profiles if p not in removed]
        return bool(removed)

    def end_transaction(self, connector: int) -> None:
        """A TxProfile lasts as long as its transaction."""
        self.clear(connector=connector, purpose=TX_PROFILE)

    def select(
        self,
        connector: int | None,
        purpose: str | None,
        stack_level: int | None,
        ids: Iterable[int] | None,
        sources: Iterable[str] | None,
    ) -> list[Profile]:
        """The profiles a 2.0.1 GetChargingProfiles asks for."""
        wanted = None if ids is None else set(ids)
        if sources is not None and SOURCE not in sources:
            return []
        return [
            p
            for p in self.profiles
            if (connector is None or p.connector == connector)
            and (purpose is None or p.purpose == purpose)
            and (stack_level is None or p.stack_level == stack_level)
            and (wanted is None or p.id in wanted)
        ]

    def composite(
        self,
        connector: int,
        start: float,
        duration: int,
        unit: str | None,
        tx_start: float | None,
        hardware_w: float,
    ) -> tuple[str, list[Period]] | None:
        """The schedule that results from the profiles for `connector` over
        [start, start + duration), in `unit` (else the unit of the first profile that applies);
        None if no profile applies in that time. Where none applies the charger's own maximum
        (`hardware_w`) is the limit."""
        applicable = [p for p in self.profiles if p.connector in (0, connector)]
        limits = [p for p in applicable if p.purpose in MAX_PURPOSES]
        tx = [p for p in applicable if p.purpose == TX_PROFILE and connector != 0]
        defaults = [p for p in applicable if p.purpose == TX_DEFAULT]
        end = start + duration
        times = {start}
        for p in applicable:
            times.update(t for t in _edges(p, start, end, tx_start) if start < t < end)

        rows: list[tuple[float, Period | None]] = []
        chosen_unit = unit
        for t in sorted(times):
            picks = [
                _top(limits, t, tx_start, start),
                _top(tx, t, tx_start, start) or _top(defaults, t, tx_start, start),
            ]
            found = [pick for pick in picks if pick is not None]
            if chosen_unit is None and found:
                chosen_unit = found[0][0]
            rows.append((t, None if not found else _tightest(found, chosen_unit or "W")))
        if all(period is None for _, period in rows):
            return None
        out_unit = chosen_unit or "W"
        hardware = Period(0, _convert(hardware_w, "W", out_unit, None))
        periods: list[Period] = []
        for t, period in rows:
            now = period or hardware
            offset = round(t - start)
            if periods and periods[-1].start == offset:
                periods.pop()  # two edges within a second: the later one holds
            if periods and (periods[-1].limit, periods[-1].phases) == (now.limit, now.phases):
                continue
            periods.append(Period(offset, now.limit, now.phases))
        return out_unit, periods


def _convert(limit: float, unit: str, to: str, phases: int | None) -> float:
    if unit == to:
        return limit
    watts_per_amp = VOLTAGE * (phases or DEFAULT_PHASES)
    return limit * watts_per_amp if to == "W" else limit / watts_per_amp


def _tightest(found: list[tuple[str, Period]], unit: str) -> Period:
    """The lowest of several limits, in `unit`."""
    converted = [Period(0, _convert(p.limit, u, unit, p.phases), p.phases) for u, p in found]
    return min(converted, key=lambda p: p.limit)


def _top(
    profiles: list[Profile], t: float, tx_start: float | None, window: float
) -> tuple[str, Period] | None:
    """The period in force at `t` of the highest-stacked profile that is active then; at the
    same level a connector's own profile goes before the one for the whole charger."""
    for p in sorted(profiles, key=lambda p: (p.stack_level, p.connector), reverse=True):
        period = _period_at(p, t, tx_start, window)
        if period is not None:
            return p.schedule.unit, period
    return None


def _origin(p: Profile, t: float, tx_start: float | None, window: float) -> float:
    """When the schedule of `p` (its recurrence that covers `t`) starts."""
    if p.kind == "Relative":
        # Relative to the transaction; with none running, to the moment asked about.
        return tx_start if tx_start is not None else window
    base = p.schedule.start if p.schedule.start is not None else p.installed_at
    if p.kind == "Recurring":
        cycle = WEEK if p.recurrency == "Weekly" else DAY
        return base + math.floor((t - base) / cycle) * cycle
    return base


def _period_at(p: Profile, t: float, tx_start: float | None, window: float) -> Period | None:
    if p.valid_from is not None and t < p.valid_from:
        return None
    if p.valid_to is not None and t >= p.valid_to:
        return None
    offset = t - _origin(p, t, tx_start, window)
    duration = p.schedule.duration
    if offset < 0 or (duration is not None and offset >= duration):
        return None
    current = None
    for period in p.schedule.periods:
        if period.start > offset:
            break
        current = period
    return current


def _edges(p: Profile, start: float, end: float, tx_start: float | None) -> list[float]:
    """Every moment in [start, end] at which what `p` says may change."""
    edges = [t for t in (p.valid_from, p.valid_to) if t is not None]
    if p.kind == "Recurring":
        cycle = WEEK if p.recurrency == "Weekly" else DAY
        first = _origin(p, start, tx_start, start)
        origins = [first + k * cycle for k in range(int((end - first) // cycle) + 1)]
    else:
        origins = [_origin(p, start, tx_start, start)]
    for origin in origins:
        edges.extend(origin + period.start for period in p.schedule.periods)
        if p.schedule.duration is not None:
            edges.append(origin + p.schedule.duration)
    return edges
