"""An ONVIF ANPR camera double (research/onvif.md §3): SOAP 1.2 over HTTP, dispatched on the
first element of the Body, with WS-Security UsernameToken (PasswordDigest) checked against the
device's own clock — which can be skewed — as real cameras do.

It serves GetSystemDateAndTime (without authentication), GetServices, and the events service:
CreatePullPointSubscription, SetSynchronizationPoint, PullMessages (a long poll that returns as
soon as a plate is injected), Renew and Unsubscribe. :meth:`drop_subscriptions` forgets every
subscription, as a camera reboot does: the next pull gets a SOAP Fault. Plates are sent on the
Hikvision topic (``tns1:RuleEngine/VehicleDetector/tnshik:Vehicle``) unless told otherwise, with
a ``PictureUri`` that the double serves (Digest auth).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape, quoteattr

from aiohttp import web
from defusedxml import ElementTree

from edge.sim.digest import DigestGuard
from edge.sim.http_server import CameraApiSim
from edge.sim.jpeg import sample_jpeg

NS = {
    "env": "http://www.w3.org/2003/05/soap-envelope",
    "wsse": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
    "wsu": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
}
_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:tds="http://www.onvif.org/ver10/device/wsdl" '
    'xmlns:tev="http://www.onvif.org/ver10/events/wsdl" '
    'xmlns:trt="http://www.onvif.org/ver10/media/wsdl" '
    'xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" '
    'xmlns:wsa="http://www.w3.org/2005/08/addressing" '
    'xmlns:tt="http://www.onvif.org/ver10/schema" '
    'xmlns:tns1="http://www.onvif.org/ver10/topics" '
    'xmlns:tnshik="http://www.hikvision.com/2011/event/topics" '
    'xmlns:tnsaxis="http://www.axis.com/2009/event/topics"><env:Body>'
)
_TAIL = "</env:Body></env:Envelope>"
HIKVISION_TOPIC = "tns1:RuleEngine/VehicleDetector/tnshik:Vehicle"
#: How far a UsernameToken's Created may be from the device clock (cameras allow ~5 s).
MAX_SKEW = timedelta(seconds=5)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _soap(body: str, status: int = 200) -> web.Response:
    return web.Response(
        body=(_HEAD + body + _TAIL).encode(), status=status, content_type="application/soap+xml"
    )


def _fault(reason: str) -> web.Response:
    return _soap(
        "<env:Fault><env:Code><env:Value>env:Receiver</env:Value></env:Code>"
        f'<env:Reason><env:Text xml:lang="en">{escape(reason)}</env:Text></env:Reason></env:Fault>',
        status=500,
    )


@dataclass
class Notification:
    topic: str
    data: dict[str, str]
    at: datetime
    operation: str = "Changed"


@dataclass
class OnvifCameraSim(CameraApiSim):
    username: str = "admin"
    password: str = "sim-camera"  # noqa: S105 - the double's own account
    clock_skew: timedelta = timedelta(0)  # the device clock minus the true time
    termination: timedelta = timedelta(seconds=60)
    subscriptions: dict[str, datetime] = field(default_factory=dict)  # address → termination
    created: int = 0  # subscriptions created so far
    renewed: int = 0
    auth_failures: int = 0
    pictures_served: int = 0
    picture_uri_in_events: bool = True  # False: like Axis, the event has no picture
    #: Set: every picture request waits until it is set (a camera too slow to answer).
    pictures_held: asyncio.Event | None = None
    _queue: dict[str, asyncio.Queue[Notification | None]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _guard: DigestGuard | None = None

    def __post_init__(self) -> None:
        self._guard = DigestGuard(self.username, self.password, "IP Camera")

    async def start(self) -> None:
        app = web.Application()
        app.add_routes(
            [
                web.post("/onvif/device_service", self._device),
                web.post("/onvif/Events", self._events),
                web.post("/onvif/Media", self._media),
                web.post("/onvif/Subscription/{sub}", self._subscription),
                web.get("/picture/{n}.jpg", self._picture),
            ]
        )
        await self._serve(app)

    def now(self) -> datetime:
        """The device's clock."""
        return datetime.now(UTC) + self.clock_skew

    # -- what a test does ---------------------------------------------------------------------
    def plate(
        self,
        plate: str,
        likelihood: str = "96",
        topic: str = HIKVISION_TOPIC,
        operation: str = "Changed",
    ) -> None:
        """The camera reads a plate: every live subscription gets it (Hikvision's items, or
        Axis's ``text`` on other topics)."""
        n = next(self._ids)
        if topic == HIKVISION_TOPIC:
            data = {"PlateNumber": plate, "Likelihood": likelihood, "VehicleDirection": "forward"}
            if self.picture_uri_in_events:
                data["PictureUri"] = f"{self.url}/picture/{n}.jpg"
        else:
            data = {"text": plate}
        self.notify(Notification(topic, data, self.now(), operation))

    def notify(self, notification: Notification) -> None:
        for queue in self._queue.values():
            queue.put_nowait(notification)

    def drop_subscriptions(self) -> None:
        """Forget every subscription (a reboot): pulls fail from now on, waiting ones at once."""
        for queue in self._queue.values():
            queue.put_nowait(None)
        self.subscriptions.clear()
        self._queue.clear()

    # -- SOAP ---------------------------------------------------------------------------------
    def _authorised(self, envelope: Element) -> bool:
        token = envelope.find(".//wsse:UsernameToken", NS)
        if token is None:
            return False
        user = token.findtext("wsse:Username", "", NS)
        digest = token.findtext("wsse:Password", "", NS)
        nonce = base64.b64decode(token.findtext("wsse:Nonce", "", NS) or "")
        created = token.findtext("wsu:Created", "", NS) or ""
        try:
            when = datetime.fromisoformat(created.replace("Z", "+00:00"))
        except ValueError:
            return False
        expected = base64.b64encode(
            hashlib.sha1(nonce + created.encode() + self.password.encode()).digest()  # noqa: S324 - WS-Security PasswordDigest is SHA-1
        ).decode()
        fresh = abs(when - self.now()) <= MAX_SKEW
        ok = user == self.username and secrets.compare_digest(digest, expected) and fresh
        if not ok:
            self.auth_failures += 1
        return ok

    async def _parse(self, request: web.Request) -> tuple[Element, str]:
        envelope = ElementTree.fromstring(await request.read())
        body = envelope.find("env:Body", NS)
        first = next(iter(body)) if body is not None and len(body) else None
        return envelope, "" if first is None else first.tag.rsplit("}", 1)[-1]

    async def _device(self, request: web.Request) -> web.Response:
        envelope, operation = await self._parse(request)
        if operation == "GetSystemDateAndTime":  # answered without authentication
            now = self.now()
            return _soap(
                "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
                "<tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false"
                "</tt:DaylightSavings><tt:UTCDateTime>"
                f"<tt:Time><tt:Hour>{now.hour}</tt:Hour><tt:Minute>{now.minute}</tt:Minute>"
                f"<tt:Second>{now.second}</tt:Second></tt:Time>"
                f"<tt:Date><tt:Year>{now.year}</tt:Year><tt:Month>{now.month}</tt:Month>"
                f"<tt:Day>{now.day}</tt:Day></tt:Date>"
                "</tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
            )
        if not self._authorised(envelope):
            return _fault("Sender not authorized")
        if operation == "GetServices":
            services = "".join(
                f"<tds:Service><tds:Namespace>{ns}</tds:Namespace>"
                f"<tds:XAddr>{self.url}{path}</tds:XAddr>"
                "<tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version>"
                "</tds:Service>"
                for ns, path in (
                    ("http://www.onvif.org/ver10/device/wsdl", "/onvif/device_service"),
                    ("http://www.onvif.org/ver10/events/wsdl", "/onvif/Events"),
                    ("http://www.onvif.org/ver10/media/wsdl", "/onvif/Media"),
                )
            )
            return _soap(f"<tds:GetServicesResponse>{services}</tds:GetServicesResponse>")
        return _fault(f"{operation} is not supported here")

    async def _events(self, request: web.Request) -> web.Response:
        envelope, operation = await self._parse(request)
        if not self._authorised(envelope):
            return _fault("Sender not authorized")
        if operation != "CreatePullPointSubscription":
            return _fault(f"{operation} is not supported here")
        sub = str(next(self._ids))
        now = self.now()
        self.subscriptions[sub] = now + self.termination
        self._queue[sub] = asyncio.Queue()
        self.created += 1
        return _soap(
            "<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference>"
            f"<wsa:Address>{self.url}/onvif/Subscription/{sub}</wsa:Address>"
            f"</tev:SubscriptionReference><wsnt:CurrentTime>{_iso(now)}</wsnt:CurrentTime>"
            f"<wsnt:TerminationTime>{_iso(now + self.termination)}</wsnt:TerminationTime>"
            "</tev:CreatePullPointSubscriptionResponse>"
        )

    async def _media(self, request: web.Request) -> web.Response:
        envelope, operation = await self._parse(request)
        if not self._authorised(envelope):
            return _fault("Sender not authorized")
        if operation == "GetProfiles":
            return _soap(
                '<trt:GetProfilesResponse><trt:Profiles token="Profile_1" fixed="true">'
                "<tt:Name>mainStream</tt:Name></trt:Profiles></trt:GetProfilesResponse>"
            )
        if operation == "GetSnapshotUri":
            return _soap(
                "<trt:GetSnapshotUriResponse><trt:MediaUri>"
                f"<tt:Uri>{self.url}/picture/snapshot.jpg</tt:Uri>"
                "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>"
                "<tt:InvalidAfterReboot>false</tt:InvalidAfterReboot>"
                "<tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:GetSnapshotUriResponse>"
            )
        return _fault(f"{operation} is not supported here")

    async def _subscription(self, request: web.Request) -> web.Response:
        envelope, operation = await self._parse(request)
        sub = request.match_info["sub"]
        if not self._authorised(envelope):
            return _fault("Sender not authorized")
        if sub not in self.subscriptions:
            return _fault("unknown subscription (it expired, or the camera restarted)")
        now = self.now()
        if operation == "PullMessages":
            timeout = envelope.findtext(".//{http://www.onvif.org/ver10/events/wsdl}Timeout", "")
            return await self._pull(sub, _seconds(timeout))
        if operation == "Renew":
            self.subscriptions[sub] = now + self.termination
            self.renewed += 1
            return _soap(
                f"<wsnt:RenewResponse><wsnt:TerminationTime>{_iso(now + self.termination)}"
                f"</wsnt:TerminationTime><wsnt:CurrentTime>{_iso(now)}</wsnt:CurrentTime>"
                "</wsnt:RenewResponse>"
            )
        if operation == "SetSynchronizationPoint":
            return _soap("<tev:SetSynchronizationPointResponse/>")
        if operation == "Unsubscribe":
            self.subscriptions.pop(sub, None)
            self._queue.pop(sub, None)
            return _soap("<wsnt:UnsubscribeResponse/>")
        return _fault(f"{operation} is not supported here")

    async def _pull(self, sub: str, timeout: float) -> web.Response:
        queue = self._queue[sub]
        waiting: list[Notification | None] = []
        try:
            async with asyncio.timeout(timeout):
                waiting.append(await queue.get())
        except TimeoutError:
            pass
        while not queue.empty():
            waiting.append(queue.get_nowait())
        if None in waiting:
            return _fault("unknown subscription (the camera restarted)")
        messages = [m for m in waiting if m is not None]
        now = self.now()
        items = "".join(_notification(m) for m in messages)
        return _soap(
            f"<tev:PullMessagesResponse><tev:CurrentTime>{_iso(now)}</tev:CurrentTime>"
            f"<tev:TerminationTime>{_iso(self.subscriptions.get(sub, now))}</tev:TerminationTime>"
            f"{items}</tev:PullMessagesResponse>"
        )

    async def _picture(self, request: web.Request) -> web.Response:
        assert self._guard is not None
        self._guard.check(request)
        if self.pictures_held is not None:
            await self.pictures_held.wait()
        self.pictures_served += 1
        label = f"onvif picture {request.match_info['n']}"  # "snapshot" for the snapshot URI
        return web.Response(body=sample_jpeg(label), content_type="image/jpeg")


def _seconds(duration: str) -> float:
    """An xs:duration such as PT60S or PT1M (what zeep sends for a timedelta)."""
    text = duration.removeprefix("PT")
    total, number = 0.0, ""
    for ch in text:
        if ch.isdigit() or ch == ".":
            number += ch
        elif number:
            total += float(number) * {"H": 3600, "M": 60, "S": 1}.get(ch, 0)
            number = ""
    return min(total or 1.0, 60.0)


def _notification(m: Notification) -> str:
    data = "".join(
        f"<tt:SimpleItem Name={quoteattr(k)} Value={quoteattr(v)}/>" for k, v in m.data.items()
    )
    return (
        "<wsnt:NotificationMessage><wsnt:Topic "
        'Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">'
        f"{escape(m.topic)}</wsnt:Topic><wsnt:Message>"
        f'<tt:Message UtcTime="{_iso(m.at)}" PropertyOperation="{m.operation}">'
        '<tt:Source><tt:SimpleItem Name="VideoSourceConfigurationToken" Value="VideoSource_1"/>'
        '<tt:SimpleItem Name="Rule" Value="PlateRule"/></tt:Source>'
        f"<tt:Data>{data}</tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage>"
    )
