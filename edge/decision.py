"""The gate's decision: a pure function of what is known about one vehicle. No I/O here.

Every :class:`Decision` says why, in a machine code (recorded, counted) and in Chinese words
(shown on the LED and the status page).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from edge.codes import ControlFlag
from edge.platform.base import VerifyAnswer

Source = Literal["platform", "offline", "local", "camera"]


@dataclass(frozen=True, slots=True)
class OfflineRules:
    policy: Literal["allow", "deny", "cache"]
    cache_ttl_seconds: float
    cache_miss: Literal["allow", "deny"]


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    """The platform's last answer for a plate and when (unix seconds) it was given."""

    answer: VerifyAnswer
    at: float


@dataclass(frozen=True, slots=True)
class Decision:
    open: bool
    code: str
    reason: str
    source: Source
    answer: VerifyAnswer | None = None

    @property
    def verdict(self) -> str:
        return "open" if self.open else "refuse"


def _from_answer(answer: VerifyAnswer, source: Source, prefix: str) -> Decision:
    if answer.control is ControlFlag.CLEAR:
        return Decision(
            open=True, code=f"{prefix}clear", reason="未管控", source=source, answer=answer
        )
    if answer.control is ControlFlag.CONTROLLED:
        return Decision(
            open=False,
            code=f"{prefix}controlled",
            reason=answer.reason or "管控车辆",
            source=source,
            answer=answer,
        )
    # isControl 2: the gate judges with its active control plan; without one, allowed.
    return Decision(
        open=True, code=f"{prefix}gate-decides", reason="无管控方案", source=source, answer=answer
    )


def decide(
    *,
    no_plate: bool,
    answer: VerifyAnswer | None,
    offline: OfflineRules,
    cached: CachedAnswer | None,
    now: float,
) -> Decision:
    """Decide for one vehicle.

    ``answer`` is ``None`` when the platform could not answer within the deadline; then the
    offline rules apply. A vehicle without a readable plate cannot be checked: it is refused
    and left to the guard.
    """
    if no_plate:
        return Decision(open=False, code="no-plate", reason="无牌车 请联系门卫", source="local")
    if answer is not None:
        return _from_answer(answer, "platform", "platform-")
    if offline.policy == "allow":
        return Decision(open=True, code="offline-allow", reason="平台离线 放行", source="offline")
    if offline.policy == "deny":
        return Decision(open=False, code="offline-deny", reason="平台离线 禁止", source="offline")
    if cached is not None and now - cached.at <= offline.cache_ttl_seconds:
        return _from_answer(cached.answer, "offline", "offline-cache-")
    if offline.cache_miss == "allow":
        return Decision(
            open=True, code="offline-cache-miss-allow", reason="平台离线 放行", source="offline"
        )
    return Decision(
        open=False, code="offline-cache-miss-deny", reason="平台离线 无记录 禁止", source="offline"
    )


def camera_decided(opened: bool) -> Decision:  # noqa: FBT001 - the camera's yes or no
    """A pass the camera decided on its own while the daemon was unreachable (offline re-push)."""
    if opened:
        return Decision(
            open=True, code="camera-offline-open", reason="相机脱机放行 补传", source="camera"
        )
    return Decision(
        open=False, code="camera-offline-refuse", reason="相机脱机未放行 补传", source="camera"
    )
