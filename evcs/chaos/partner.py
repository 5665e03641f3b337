"""A partner switching chargers on and off through the gateways for the whole run, noting
for every command whether it got an HTTP answer."""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field

import aiohttp

from evcs.chaos.summary import EXPECTED_STATUSES, Commands, cut_by_kill

# A gateway answers within the command timeout (5 s) plus its margin; this is far beyond.
REQUEST_TIMEOUT_S = 30.0
# A request this soon after a gateway kill may still travel a connection to it.
KILL_GRACE_S = 1.0


@dataclass
class Partner:
    api: str  # the gateways' load balancer: http://host:port/api/v1
    api_key: str
    ids: list[str]
    rng: random.Random
    workers: int = 2
    pause_s: float = 0.2
    commands: Commands = field(default_factory=Commands)
    gateway_kills: list[float] = field(default_factory=list)  # time.monotonic() of each
    since: float = field(default_factory=time.monotonic)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _http: aiohttp.ClientSession | None = None
    _switched_on: dict[str, bool] = field(default_factory=dict)  # what the partner asked last
    _stopping: bool = False

    def start(self) -> None:
        self._http = aiohttp.ClientSession(
            headers={"x-api-key": self.api_key},
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
        )
        self._tasks = [asyncio.create_task(self._command()) for _ in range(self.workers)]

    async def stop(self) -> None:
        """Let the commands in flight finish, then stop."""
        self._stopping = True
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()

    async def answers(self, url: str) -> bool:
        """Whether a GET of `url` gets a 200 (a probe: not counted)."""
        assert self._http is not None
        try:
            async with self._http.get(url) as response:
                await response.read()
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def _command(self) -> None:
        assert self._http is not None
        while not self._stopping:
            cp = self.rng.choice(self.ids)
            action = "off" if self._switched_on.get(cp) else "on"
            self._switched_on[cp] = not self._switched_on.get(cp)
            started = time.monotonic()
            try:
                async with self._http.post(
                    f"{self.api}/chargers/{cp}/control", json={"action": action}
                ) as response:
                    body = await response.read()
                    self.commands.statuses[response.status] += 1
                    if response.status == 409:
                        self.commands.conflicts[_outcome(body)] += 1
                    if response.status not in EXPECTED_STATUSES:
                        self.commands.unexpected.append(
                            f"at {started - self.since:.1f}s, {cp} {action}: {response.status}"
                            f" {body[:200].decode(errors='replace')}"
                        )
            except (aiohttp.ClientError, TimeoutError) as exc:
                ended = time.monotonic()
                if cut_by_kill(started, ended, self.gateway_kills, KILL_GRACE_S):
                    self.commands.cut_by_kill += 1
                else:
                    self.commands.unanswered.append(
                        f"at {started - self.since:.1f}s, {cp} {action}: {exc!r}"
                        f" after {ended - started:.1f}s"
                    )
            await asyncio.sleep(self.pause_s)


def _outcome(body: bytes) -> str:
    """The `outcome` of an error answer (EVSE_OFFLINE, NOT_SUPPORTED, ...), or "?"."""
    try:
        answer = json.loads(body)
    except ValueError:
        return "?"
    return str(answer.get("outcome", "?")) if isinstance(answer, dict) else "?"
