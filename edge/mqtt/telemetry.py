"""MQTT telemetry and remote commands (aiomqtt), for enterprises with many gates and the
city's operations team.

Topics under ``<prefix>/<enterprise code>/``:
- ``status`` (retained): ``{"online": true, …}``; the broker publishes ``{"online": false}``
  (the last will) when the daemon disappears;
- ``link`` and ``gates/<gate code>/<in|out>/status`` (retained): the platform link, each
  lane's camera and drivers, every ``status_interval_seconds``;
- ``replica`` (retained, with ``[replica]``): the replication's lag, alarm and errors, every
  ``status_interval_seconds`` and at once when its state changes;
- ``passes``: each pass as it is decided (no images; photo URLs);
- ``commands`` (subscribed): ``{"id", "lane", "action": "open"|"led", "text", "operator",
  "reason", "ts", "signature"}``, where ``signature`` is the hex HMAC-SHA256 of the canonical
  JSON of the other fields (sorted keys, no spaces, UTF-8) with ``command_secret``. A command is
  carried out only with a valid signature, a ``ts`` within ``command_max_age_seconds`` and an
  ``id`` not seen before (no replay); every command, carried out or refused, is audited, and
  its result is published to ``commands/result``. The signature, age and replay are checked
here; the action itself is authorised, carried out and audited by ``edge.actions.operator``.

While the broker is away, pass messages wait in a bounded queue (the oldest are dropped first,
and counted); the connection is retried with a capped backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import math
import time
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any

import structlog

from drivers.backoff import Backoff
from edge.actions.operator import ActionError, Actor, Face, Operator
from edge.config.model import MqttTelemetryConfig
from edge.domain.text import holds_hidden
from edge.gate.lane import Lane
from edge.ops.health import HealthReport
from edge.ops.supervisor import cancel_and_wait

if TYPE_CHECKING:
    # aiomqtt (with paho: ~0.9 MiB resident) is imported when telemetry runs, i.e. only
    # when [mqtt] is configured (issue 19's steady RSS).
    import aiomqtt

log = structlog.get_logger("edge.mqtt.telemetry")

_SEEN_IDS = 10_000


def canonical(command: Mapping[str, Any]) -> bytes:
    body = {k: v for k, v in command.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def command_id(command: Mapping[str, Any]) -> str | None:
    """The command's ``id``, normalised (surrounding blanks dropped) as the replay check
    stores and tests it; ``None`` unless it is a non-empty string."""
    value = command.get("id")
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()


#: Characters of a command's ``operator`` (as a status page user name may have).
MAX_OPERATOR_NAME = 64


def sign(command: Mapping[str, Any], secret: str) -> str:
    return hmac.new(secret.encode(), canonical(command), hashlib.sha256).hexdigest()


async def _serve_together(*parts: Coroutine[Any, Any, None]) -> None:
    """Run a session's parts until one fails (its error, or an :class:`ExceptionGroup` of
    several, is raised) or the caller is cancelled; either way every part has ended on return.
    Not an ``asyncio.TaskGroup``: that cancels its children once, and a child that loses the
    cancellation inside aiomqtt (Python 3.11's ``wait_for``) kept the daemon from stopping."""
    tasks = [asyncio.create_task(part) for part in parts]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        await cancel_and_wait(tasks)
    errors = [t.exception() for t in tasks if not t.cancelled() and t.exception() is not None]
    if errors:
        raise BaseExceptionGroup("MQTT session", [e for e in errors if e is not None])


class Telemetry:
    def __init__(
        self,
        cfg: MqttTelemetryConfig,
        enterprise_code: str,
        lanes: Mapping[str, Lane],
        operator: Operator,
        health: Callable[[], HealthReport],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cfg, self.lanes, self.operator, self.health, self._clock = (
            cfg, lanes, operator, health, clock,
        )  # fmt: skip
        self.base = f"{cfg.topic_prefix}/{enterprise_code}"
        self.queue: deque[dict[str, Any]] = deque(maxlen=cfg.queue_size)
        self.dropped = 0
        self.connected = False
        self._queued = asyncio.Event()
        self._replica_changed = asyncio.Event()
        self._seen: deque[str] = deque(maxlen=_SEEN_IDS)

    # -- passes --------------------------------------------------------------------------------
    def publish_pass(self, message: dict[str, Any]) -> None:
        """Queue a pass message (called by the lanes); never blocks a vehicle."""
        if len(self.queue) == self.queue.maxlen:
            self.dropped += 1
        self.queue.append(message)
        self._queued.set()

    # -- the connection ------------------------------------------------------------------------
    async def run(self) -> None:
        """Connect, serve, reconnect with a capped backoff — forever: a lost broker (a plain
        error, or several from the session's parts) never ends the task."""
        import aiomqtt  # noqa: PLC0415 - only where MQTT is configured (see above)

        backoff = Backoff(1.0, 60.0)
        while True:
            try:
                await self._session()
            except* aiomqtt.MqttError as group:
                if self.connected:
                    log.warning("MQTT broker lost", error=str(group.exceptions[0]))
            except* Exception as group:  # a bug must not end telemetry: log it, reconnect
                log.error("MQTT session failed", exc_info=group)
            self.connected = False
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                # a cancellation lost inside aiomqtt (Python 3.11's wait_for) came out as the
                # broker's error, or as none: stop, as asked, not reconnect
                raise asyncio.CancelledError
            await asyncio.sleep(backoff.next())

    async def _session(self) -> None:
        import aiomqtt  # noqa: PLC0415 - loaded by run

        will = aiomqtt.Will(
            f"{self.base}/status", json.dumps({"online": False}), qos=1, retain=True
        )
        password = self.cfg.password.get_secret_value() if self.cfg.password else None
        async with aiomqtt.Client(
            self.cfg.host,
            self.cfg.port,
            username=self.cfg.username,
            password=password,
            will=will,
            keepalive=30,
        ) as client:
            self.connected = True
            log.info("MQTT broker connected", host=self.cfg.host)
            await client.publish(
                f"{self.base}/status", json.dumps({"online": True}), qos=1, retain=True
            )
            await client.subscribe(f"{self.base}/commands", qos=1)
            await _serve_together(
                self._send_passes(client),
                self._send_status(client),
                self._send_replica(client),
                self._take_commands(client),
            )

    async def _send_passes(self, client: aiomqtt.Client) -> None:
        while True:
            while self.queue:
                message = self.queue[0]
                await client.publish(
                    f"{self.base}/passes", json.dumps(message, ensure_ascii=False), qos=1
                )
                self.queue.popleft()
            self._queued.clear()
            await self._queued.wait()

    async def _send_status(self, client: aiomqtt.Client) -> None:
        while True:
            report = self.health()
            await client.publish(
                f"{self.base}/link",
                json.dumps({"link": report.link, "outbox": report.outbox.to_json()}),
                qos=1,
                retain=True,
            )
            for lane in self.lanes.values():
                camera, devices = report.cameras.get(lane.id), report.devices.get(lane.id)
                status = {
                    "lane": lane.id,
                    "camera": None if camera is None else camera.to_json(),
                    "devices": None if devices is None else devices.to_json(),
                }
                topic = f"{self.base}/gates/{lane.cfg.gate_code}/{lane.cfg.direction}/status"
                await client.publish(topic, json.dumps(status), qos=1, retain=True)
            await asyncio.sleep(self.cfg.status_interval_seconds)

    def replica_changed(self) -> None:
        """The replica's state changed (its lag alarm raised or cleared, its target refused
        or back, its syncs failing or confirmed again): ``replica`` is published now, not at
        the next ``status_interval_seconds``. Called by the replicator; never blocks."""
        self._replica_changed.set()

    async def _send_replica(self, client: aiomqtt.Client) -> None:
        """``<base>/replica`` (retained, issue 17): every ``status_interval_seconds``, and at
        once when the replica's state changes (:meth:`replica_changed`)."""
        while True:
            self._replica_changed.clear()
            replica = self.health().replica
            if replica is not None:
                await client.publish(
                    f"{self.base}/replica",
                    json.dumps(replica.to_json(), ensure_ascii=False),
                    qos=1,
                    retain=True,
                )
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.cfg.status_interval_seconds):
                    await self._replica_changed.wait()

    # -- commands ------------------------------------------------------------------------------
    async def _take_commands(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            payload = message.payload if isinstance(message.payload, bytes) else b""
            result = await self.handle_command(payload)
            await client.publish(
                f"{self.base}/commands/result", json.dumps(result, ensure_ascii=False), qos=1
            )

    async def handle_command(self, payload: bytes) -> dict[str, Any]:
        """One command under its own error boundary: whatever it holds, it is refused or
        carried out, audited, and answered — it never raises."""
        try:
            return await self._handle_command(payload)
        except Exception as exc:
            log.exception("remote command failed", payload=payload[:200])
            why = f"failed: {type(exc).__name__}"
            with contextlib.suppress(Exception):
                await self._audit("?", "command", "", "refused", why)
            return {"result": "refused", "why": why}

    def _check(self, command: Mapping[str, Any]) -> str | None:
        """Why the command is refused, or None."""
        secret = self.cfg.command_secret
        if secret is None:
            return "commands are disabled (no command_secret configured)"
        signature = command.get("signature")
        expected = sign(command, secret.get_secret_value())
        if not isinstance(signature, str) or not hmac.compare_digest(
            signature.encode("utf-8", "surrogatepass"), expected.encode()
        ):  # as bytes: a non-ASCII str would raise TypeError
            return "bad signature"
        ts = command.get("ts")
        if (
            isinstance(ts, bool)
            or not isinstance(ts, int | float)
            or not math.isfinite(ts)
            or abs(self._clock() - ts) > self.cfg.command_max_age_seconds
        ):
            return "stale or missing ts"
        if command_id(command) is None:
            return "id must be a non-empty string"
        if command_id(command) in self._seen:
            return "replayed id"
        if command.get("lane") not in self.lanes:
            return "unknown lane"
        if command.get("action") not in ("open", "led"):
            return "unknown action"
        operator = command.get("operator")
        if operator is not None and (
            not isinstance(operator, str)
            or len(operator) > MAX_OPERATOR_NAME
            or holds_hidden(operator)
        ):  # audited, and on the pass it opens as its operator
            return f"operator must be text of at most {MAX_OPERATOR_NAME} characters, none hidden"
        return None

    async def _handle_command(self, payload: bytes) -> dict[str, Any]:
        try:
            command = json.loads(payload)
        except (ValueError, RecursionError):  # RecursionError: deeply nested JSON
            command = None
        if not isinstance(command, dict):
            await self._audit("?", "command", "", "refused", "not a JSON object")
            return {"result": "refused", "why": "not a JSON object"}
        operator = str(command.get("operator") or "?")
        target = str(command.get("lane") or "")
        action = f"remote {command.get('action')}"
        why = self._check(command)
        if why is not None:
            log.warning("remote command refused", why=why, operator=operator, lane=target)
            await self._audit(operator, action, target, "refused", why)
            return {"id": command.get("id"), "result": "refused", "why": why}
        seen = command_id(command)
        assert seen is not None  # checked above
        self._seen.append(seen)
        actor = Actor(operator, "mqtt", Face.MQTT)
        try:
            if command["action"] == "open":
                reason = str(command.get("reason") or "远程开闸")
                done = await self.operator.open_barrier(actor, target, reason)
            else:
                done = await self.operator.show_text(actor, target, str(command.get("text") or ""))
        except ActionError as exc:
            return {"id": command["id"], "result": exc.result, "why": exc.detail}
        return {"id": command["id"], "result": "ok" if done.ok else "failed", "detail": done.detail}

    async def _audit(self, actor: str, action: str, target: str, result: str, detail: str) -> None:
        """A command refused before it is authenticated (its operator as it claims)."""
        await self.operator.audit(Actor(actor, "mqtt", Face.MQTT), action, target, result, detail)
