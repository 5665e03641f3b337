"""Each fault `evcs soak` injects, and the measurement of its recovery (plan.KINDS says what
counts as recovered and from when)."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

from evcs.chaos.partner import Partner
from evcs.chaos.plan import Fault
from evcs.chaos.processes import NotInTime, Proc, eventually
from evcs.chaos.summary import Measured
from evcs.chaos.system import System

RECOVERY_TIMEOUT_S = 90.0

Probe = Callable[[], Awaitable[bool]]


class Injector:
    def __init__(self, system: System, partner: Partner) -> None:
        self.system = system
        self.partner = partner
        self.slowest = ""  # the charger(s) that acknowledged last in the latest recovery

    async def inject(self, fault: Fault) -> tuple[Measured, str]:
        """Do it, wait for the recovery; returns the figures and a word on what was done."""
        self.slowest = ""
        act = {
            "csms-kill": self._csms_kill,
            "recorder-kill": self._recorder_kill,
            "gateway-kill": self._gateway_kill,
            "redis-restart": self._redis_restart,
            "redis-kill": self._redis_restart,
            "postgres-restart": self._postgres_restart,
            "link-drop": self._link_cut,
            "link-reset": self._link_cut,
            "primary-failover": self._primary_failover,
        }[fault.kind]
        return await act(fault)

    # probes ----------------------------------------------------------------------------

    def _storing_since(self, moment: float) -> Probe:
        """Every charger acknowledged after `moment`; the last one to be is noted in
        self.slowest (a lead when one lags)."""
        fleet = self.system.fleet
        waiting = set(fleet.ids)

        async def probe() -> bool:
            back = {cp for cp in waiting if fleet.last_acked_sent.get(cp, float("-inf")) > moment}
            if back and back == waiting:
                self.slowest = ", ".join(sorted(back))
            waiting.difference_update(back)
            return not waiting

        return probe

    def _recorded_before(self, moment: float) -> Probe:
        return lambda: self.system.ledger.holds_all(self.system.pool, moment)

    def _watch(self, probe: Probe, what: str) -> asyncio.Task[float | None]:
        """Start timing the recovery now, while the fault is still being undone."""

        async def watch() -> float | None:
            try:
                return await eventually(probe, what, RECOVERY_TIMEOUT_S)
            except NotInTime:
                return None

        return asyncio.create_task(watch())

    # process kills: the recovery is timed from the kill ----------------------------------

    async def _csms_kill(self, fault: Fault) -> tuple[Measured, str]:
        s = self.system
        # a node without chargers (they all moved away after its last restart) would measure
        # nothing: the one with the most, then
        node = fault.target
        if not s.chargers_on(node):
            node = max(range(len(s.csms)), key=s.chargers_on)
        held = s.chargers_on(node)
        return await self._kill_and_restart(
            replace(fault, target=node),
            s.csms,
            s.restart_csms,
            self._storing_since,
            f"node {node + 1}, {held} chargers",
        )

    async def _recorder_kill(self, fault: Fault) -> tuple[Measured, str]:
        s = self.system
        return await self._kill_and_restart(
            fault,
            s.recorders,
            s.restart_recorder,
            self._recorded_before,
            f"recorder {fault.target + 1}",
        )

    async def _kill_and_restart(
        self,
        fault: Fault,
        procs: list[Proc],
        restart: Callable[[int], Awaitable[None]],
        recovered_since: Callable[[float], Probe],
        what: str,
    ) -> tuple[Measured, str]:
        """SIGKILL procs[target] and start it again, timing the recovery from the kill on
        (the others may carry the load before the new one is up)."""
        killed = time.monotonic()
        await procs[fault.target].stop(signal.SIGKILL)
        recovered = self._watch(recovered_since(killed), f"recovered from {fault.kind}")
        await restart(fault.target)
        outage = time.monotonic() - killed
        return Measured(fault.kind, outage, await recovered), what

    async def _gateway_kill(self, fault: Fault) -> tuple[Measured, str]:
        s = self.system
        killed = time.monotonic()
        self.partner.gateway_kills.append(killed)
        await s.gateways[fault.target].stop(signal.SIGKILL)
        await s.restart_gateway(fault.target)
        outage = time.monotonic() - killed
        status = f"{s.gateway_api(fault.target)}/chargers/{s.ids[0]}/status"
        answered = await self._watch(lambda: self.partner.answers(status), "the new gateway")
        recovery = None if answered is None else time.monotonic() - killed
        return Measured(fault.kind, outage, recovery), f"gateway {fault.target + 1}"

    async def _primary_failover(self, fault: Fault) -> tuple[Measured, str]:
        s = self.system
        primaries = await asyncio.to_thread(s.primaries)
        victim = primaries[fault.target % len(primaries)]
        await asyncio.to_thread(s.kill_node, victim)
        killed = time.monotonic()
        recovered = self._watch(self._storing_since(killed), "every charger storing again")

        async def promoted() -> bool:
            return await asyncio.to_thread(s.served_without, victim)

        promoted_s = await self._watch(promoted, "a replica promoted")
        recovery = await recovered
        if promoted_s is None:
            return Measured(fault.kind, RECOVERY_TIMEOUT_S, None), f"primary on port {victim}"
        rejoined = time.monotonic()
        await asyncio.to_thread(s.rejoin, victim)  # a replica of the node that replaced it
        detail = (
            f"primary on port {victim}: replica promoted after {promoted_s:.2f}s; the old"
            f" primary in sync as a replica {time.monotonic() - rejoined:.2f}s after its start"
        )
        return Measured(fault.kind, promoted_s, recovery), detail

    # servers and the link: the recovery is timed from when they are back ----------------

    async def _redis_restart(self, fault: Fault) -> tuple[Measured, str]:
        s = self.system
        stopped = time.monotonic()
        # not the recovery, but telling: how soon what was acknowledged before reaches PostgreSQL
        written = self._watch(self._recorded_before(stopped), "the stream written")
        await asyncio.to_thread(s.restart_redis, fault.kind == "redis-kill")
        back = time.monotonic()
        recovery = await self._watch(self._storing_since(back), "every charger storing again")
        what = "the cluster, every node" if s.cluster else "the server"
        written_s = await written
        after = "never" if written_s is None else f"{written_s:.2f}s after the stop"
        detail = f"{what}; everything acknowledged before it in PostgreSQL {after}"
        return Measured(fault.kind, back - stopped, recovery), detail

    async def _postgres_restart(self, fault: Fault) -> tuple[Measured, str]:
        s = self.system
        stopped = time.monotonic()
        await asyncio.to_thread(s.restart_postgres)
        back = time.monotonic()
        recovery = await self._watch(self._recorded_before(back), "the backlog written")
        return Measured(fault.kind, back - stopped, recovery), "the server"

    async def _link_cut(self, fault: Fault) -> tuple[Measured, str]:
        proxy = self.system.proxy
        assert proxy is not None, "link faults need the proxy (single Redis)"
        cut = time.monotonic()
        proxy.cut("drop" if fault.kind == "link-drop" else "reset")
        await asyncio.sleep(fault.seconds)
        proxy.restore()
        back = time.monotonic()
        recovery = await self._watch(self._storing_since(back), "every charger storing again")
        return Measured(fault.kind, back - cut, recovery), f"{fault.seconds:.1f}s"
