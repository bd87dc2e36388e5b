"""Open the barrier through a Hikvision ANPR camera's ISAPI (research/anpr_formats.md §2.4):
``PUT /ISAPI/Parking/channels/<ch>/barrierGate`` with ``<BarrierGate><ctrlMode>open</ctrlMode>
</BarrierGate>``, HTTP Digest auth; the camera answers a ``ResponseStatus`` (statusCode 1 = OK).
The arm's state comes from ``…/barrierGate/barrierGateStatus`` (1 closed, 2 opened).

An unreachable camera fails the command at once (DriverUnavailableError); a refusal (wrong
password, ``notSupport`` on models without parking functions) fails it with the camera's reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from typing_extensions import override

from drivers.base import (
    Actuation,
    Barrier,
    DriverError,
    DriverHealth,
    DriverUnavailableError,
    Lifecycle,
)

if TYPE_CHECKING:
    # httpx is imported when such a barrier is made (defusedxml when it answers): a daemon
    # without one never loads httpx (issue 19's steady RSS; the config names this class).
    import httpx

OPEN_BODY = b"<BarrierGate><ctrlMode>open</ctrlMode></BarrierGate>"


def _text(xml: bytes, name: str) -> str | None:
    """The text of the first element called ``name``, in any namespace."""
    from defusedxml import ElementTree  # noqa: PLC0415 - with a barrier of this kind only

    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError:
        return None
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] == name:
            return (element.text or "").strip()
    return None


class HikvisionBarrier(Lifecycle, Barrier):
    def __init__(
        self, url: str, username: str, password: str, *, channel: int = 1, timeout: float = 2.0
    ) -> None:
        import httpx  # noqa: PLC0415 - with a barrier of this kind only (see above)

        self.channel = channel
        self.health = DriverHealth()
        self._http: httpx.AsyncClient = httpx.AsyncClient(
            base_url=url, auth=httpx.DigestAuth(username, password), timeout=timeout
        )

    async def _request(self, method: str, path: str, body: bytes | None = None) -> bytes:
        import httpx  # noqa: PLC0415 - loaded by __init__

        url = f"/ISAPI/Parking/channels/{self.channel}/{path}"
        try:
            response = await self._http.request(
                method, url, content=body, headers={"Content-Type": "application/xml"}
            )
        except httpx.TransportError as exc:
            self.health.connected = False
            raise DriverUnavailableError(f"camera ISAPI unreachable: {exc!r}") from exc
        self.health.connected = True
        status = _text(response.content, "statusCode")
        if response.status_code != 200 or status not in (None, "1"):
            reason = _text(response.content, "subStatusCode") or response.reason_phrase
            raise DriverError(f"the camera refused {method} {url}: {response.status_code} {reason}")
        return response.content

    @override
    async def open(self, ctx: Actuation) -> None:
        try:
            await self._request("PUT", "barrierGate", OPEN_BODY)
        except DriverError as exc:
            self.health.failed(str(exc))
            raise
        self.health.ok()

    async def state(self) -> Literal["open", "closed"] | None:
        body = await self._request("GET", "barrierGate/barrierGateStatus")
        status = _text(body, "barrierGateStatus")
        if status == "2":
            return "open"
        return "closed" if status == "1" else None  # 0: the camera has no barrier signal

    async def aclose(self) -> None:
        await self._http.aclose()
