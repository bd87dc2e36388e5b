"""The one configuration model: a TOML file a field technician edits, plus ``EDGE_…`` overrides.

Environment variables override the file, nested keys joined by ``__``; use this to keep the
platform password out of the file: ``EDGE_PLATFORM__PASSWORD=…``. Unknown keys are errors
(a typo must not silently fall back to a default). Relative paths are relative to the file.
Errors are raised as :class:`ConfigError`, which lists every problem with its key path and
line; see :mod:`edge.config.errors`.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from types import UnionType
from typing import (
    TYPE_CHECKING,
    Annotated,
    Any,
    ClassVar,
    Literal,
    Union,
    get_args,
    get_origin,
)
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)
from typing_extensions import override

from drivers.base import Barrier, Detector, Display
from drivers.camera_reply import CameraRelayBarrier
from drivers.contact_detectors import CameraInputDetector, SerialContactDetector
from drivers.context import DriverContext
from drivers.modbus_relay import ModbusRelayBarrier
from drivers.serial_link import SerialLink
from drivers.virtual import VirtualBarrier, VirtualDetector, VirtualDisplay
from edge.config.errors import (
    NOT_ECHOED,
    ConfigError,
    ConfigIssue,
    Loc,
    env_overrides,
    format_loc,
    issues_from_validation,
    locate_keys,
    models_in,
)
from edge.domain.goods import GoodsError, goods_name
from edge.domain.led_text import PLACEHOLDERS, unknown_placeholders
from edge.domain.plates import color_from_word, normalise_plate
from edge.domain.weighing import StableRule

if TYPE_CHECKING:  # drivers a config may not have: imported by build() (issue 19)
    from drivers.led_display import LedEncoder, Transport
    from drivers.scale import ScaleIndicator
    from drivers.weighing import FrameParser


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


Seconds = Annotated[float, Field(gt=0)]


class SiteConfig(_Section):
    enterprise_code: str = Field(pattern=r"^\d{10}$", description="企业编号 §6.2")
    enterprise_name: str = Field(min_length=1, max_length=150, description="企业名称")
    timezone: str = "Asia/Shanghai"
    #: When trucks come: a camera silent this long in these hours raises an alarm.
    operating_hours: str = Field(
        default="06:00-22:00", pattern=r"^\d{2}:\d{2}-\d{2}:\d{2}$", description="作业时段"
    )
    camera_silent_minutes: float = Field(default=60, gt=0)
    #: A camera's time further than this from the daemon's clock is not trusted: logged once
    #: per camera, and the receive time is used for the serial number and the record.
    camera_clock_max_skew_seconds: float = Field(default=300, gt=0)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. 'Asia/Shanghai')") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class PlatformConfig(_Section):
    mode: Literal["city", "province"] = "city"
    base_url: str = Field(pattern=r"^https?://[^\s/]+", description="平台地址")
    username: str = Field(min_length=1, max_length=32)
    password: SecretStr = Field(min_length=1, max_length=32)
    # city (§4.1)
    organ: str = Field(
        default="", max_length=32, description="组织机构编码, assigned by the centre"
    )
    photo_upload: Literal["multipart", "base64"] = "multipart"
    # province (§4.2)
    org_secret_code: SecretStr | None = Field(default=None, max_length=32)
    company_secret_code: SecretStr | None = Field(default=None, max_length=32)
    path_template: str = "{base}/{method}"
    date_format: Literal["yyMMddHHmmss", "yyyyMMddHHmm"] = "yyMMddHHmmss"
    # both
    verify_deadline_seconds: float = Field(default=1.5, gt=0, le=4)
    request_timeout_seconds: Seconds = 10.0
    token_refresh_margin_seconds: float = Field(default=300, ge=0, lt=7200)
    clock_max_offset_seconds: Seconds = 30.0
    stamp_corrected_time: bool = False
    breaker_failures: int = Field(default=3, ge=1, le=100)
    breaker_probe_seconds: Seconds = 5.0

    @field_validator("path_template")
    @classmethod
    def _template_fields(cls, value: str) -> str:
        if "{method}" not in value:
            raise ValueError("must contain {method}, e.g. '{base}/{method}'")
        try:
            value.format(base="", method="")
        except (KeyError, IndexError, ValueError):
            raise ValueError("only {base} and {method} may be used") from None
        return value


class DecisionConfig(_Section):
    duplicate_window_seconds: float = Field(default=60, ge=0)
    #: A vehicle without a type (§7.7) is heavy from this gross vehicle mass on.
    heavy_gvm_kg: float = Field(default=12000, gt=0)
    offline_policy: Literal["allow", "deny", "cache"] = "cache"
    offline_cache_ttl_hours: Seconds = 24.0
    offline_cache_miss: Literal["allow", "deny"] = "deny"
    #: A read older than this when its turn comes (or when its verdict is ready) is recorded
    #: as stale and never moves the barrier; the LED asks the driver to wait for the guard.
    max_read_age_seconds: float = Field(default=2.0, gt=0, le=60)
    #: Reads waiting at one lane at most; a camera's push beyond it is answered 503 (not
    #: recorded: the camera sends it again). A guard's override always gets in.
    lane_queue_size: int = Field(default=32, ge=1, le=10_000)
    #: A lane's serial numbers (流水号, to the second and a second apart at least: spec §6.4)
    #: may run this far ahead of the clock; a camera's read beyond it is answered as when the
    #: lane is busy. A gate passes a vehicle every few seconds at most: only a flood of
    #: distinct plates (a camera, or a host posing as one, at a lane's push rate) gets there —
    #: it took a lane's numbers 171 s ahead in 40 s, and every real pass after it was numbered
    #: minutes in the future. (A benchmark pushing 50 vehicles a second sets it higher.)
    max_serial_lead_seconds: float = Field(default=60, ge=1)


def _plate_key(text: str) -> str | None:
    """The plate grammar of every source (README, *Plate grammar*), normalised; None: not a
    plate."""
    return normalise_plate(text, colour_prefix=True).text


class ListedPlate(_Section):
    plate: str = Field(min_length=2, max_length=16)
    reason: str = Field(default="", max_length=32, description="shown on the LED and recorded")
    until: datetime | None = Field(default=None, description="expiry, e.g. 2026-12-31T00:00:00")

    @field_validator("plate")
    @classmethod
    def _a_plate(cls, value: str) -> str:
        """The plate grammar of every source (README, *Plate grammar*), normalised."""
        plate = _plate_key(value)
        if plate is None:
            raise ValueError("not a plate (README: plate grammar)")
        return plate


class ListsConfig(_Section):
    """The gate's own lists: in-plant vehicles (always allowed, still recorded), allow and deny
    lists; a plate on several lists: deny, then in-plant, then allow."""

    in_plant: list[ListedPlate] = []
    allow: list[ListedPlate] = []
    deny: list[ListedPlate] = []


class ControlPlanConfig(_Section):
    """A heavy-pollution control plan defined (and scheduled) by the technician."""

    name: str = Field(min_length=1, max_length=64)
    strategy: int = Field(ge=1, le=7, description="§7.20 管控策略")
    level: int = Field(default=1, ge=1, le=4, description="§7.18 管控等级")
    area: int = Field(default=1, ge=1, le=2, description="§7.19 管控区域")
    start: datetime
    end: datetime | None = None
    baseline_heavy_entries: int = Field(default=0, ge=0)


#: Source addresses or networks ("10.1.2.30", "10.1.2.0/24"); an empty list allows any.
Networks = list[ipaddress.IPv4Network | ipaddress.IPv6Network]


def address_in(
    address: str | None, networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]
) -> bool:
    """Whether ``address`` (a peer's, as aiohttp gives it) is in one of ``networks``; False
    for no networks and for an address that is not an IP address."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in network for network in networks)


class _Camera(_Section):
    """What every camera section says about what the camera can do."""

    #: It takes barrier and LED commands (relay pulse, RS-485 bytes) only in the replies to
    #: its own pushes and polls (Vzenith and clones): a 'camera-relay' barrier and a
    #: 'camera' LED transport need it.
    commands_in_reply: ClassVar[bool] = False
    #: It pushes its IO inputs (Vzenith AlarmGioIn): a 'camera-input' detector needs it.
    pushes_io_inputs: ClassVar[bool] = False


class _PushingCamera(_Camera):
    """A camera that POSTs to the daemon (no login: who may push, and how often)."""

    token: SecretStr | None = None
    #: Pushes to this lane are taken only from these addresses (the camera's); empty: any.
    allow_from: Networks = []
    #: Plate pushes a lane takes per second on average, with bursts of twice as many: a lane
    #: passes a vehicle every few seconds and a camera sends a few messages for each; beyond
    #: this the push is answered 429 before its body is read (a broken or hostile sender on
    #: one lane must not slow the others). Heartbeats, IO inputs and pushes that are not
    #: passes (keep-alives, alerts) do not use it up; at least one push fits, however low.
    max_pushes_per_second: float = Field(default=5, gt=0, le=1000)


class PushCamera(_PushingCamera):
    """A camera that POSTs its plates to ``/push/<lane id>``."""

    kind: Literal["generic-push", "hikvision-push", "dahua-push", "milesight-push"]
    reply_deadline_seconds: float = Field(default=3.0, gt=0, le=30)
    #: Dahua ITSAPI posts to fixed paths; its SnapInfo.DeviceID tells which lane it is.
    device_id: str | None = None


#: Default serial plate pattern: a provincial character, a letter, 4-6 letters/digits, and an
#: optional trailing character (学, 挂, 警…); a colour word before it is understood too.
SERIAL_PLATE_PATTERN = (
    r"(?P<plate>(?:黄绿|[蓝黄白黑绿])?[\u4e00-\u9fa5][A-Z][A-Z0-9]{4,6}[\u4e00-\u9fa5]?)"
)


class SerialCamera(_Camera):
    """A camera or recogniser that prints plates on RS-232/485 (one read per line)."""

    kind: Literal["serial"]
    port: str = Field(min_length=1, description="e.g. /dev/ttyUSB0")
    baudrate: int = Field(default=9600, gt=0)
    encoding: Literal["gbk", "gb18030", "utf-8", "ascii"] = "gbk"
    #: A regular expression with a named group ``plate`` (and optionally ``color``).
    pattern: str = SERIAL_PLATE_PATTERN

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            groups = re.compile(value).groupindex
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        if "plate" not in groups:
            raise ValueError("the pattern needs a named group (?P<plate>...)")
        return value


class MqttCamera(_Camera):
    """A camera that publishes its plates to an MQTT broker."""

    kind: Literal["mqtt"]
    host: str = Field(min_length=1)
    port: int = Field(default=1883, gt=0, le=65535)
    topic: str = Field(min_length=1, description="e.g. cameras/gate1/plates (wildcards allowed)")
    #: The payload format: the generic JSON, Vzenith AlarmInfoPlate, or Milesight JSON.
    format: Literal["generic", "vzenith", "milesight"] = "generic"
    username: str | None = None
    password: SecretStr | None = None


class DahuaPullCamera(_Camera):
    """A Dahua ITC camera whose events the daemon pulls (``eventManager.cgi`` attach stream)."""

    kind: Literal["dahua-pull"]
    url: str = Field(pattern=r"^https?://[^\s/]+", description="相机地址")
    username: str = Field(min_length=1)
    password: SecretStr


class OnvifTopic(_Section):
    """Where a camera's ONVIF event carries the plate: the topic (its end is enough) and the
    names of the items (Data, then Source, then inside ElementItems) holding each field."""

    topic: str = Field(min_length=1)
    plate: str = "PlateNumber"
    confidence: str | None = "Likelihood"
    #: Multiply the confidence by this to get a percentage (the spec's 0-1 → 100).
    confidence_scale: float = Field(default=1.0, gt=0)
    picture: str | None = "PictureUri"


#: The plate topics seen in the field (research/onvif.md §4); a new camera is one more entry.
ONVIF_TOPICS = [
    OnvifTopic(topic="tns1:RuleEngine/VehicleDetector/tnshik:Vehicle"),  # Hikvision
    OnvifTopic(topic="tns1:RuleEngine/LicensePlateDetector/LicensePlate"),  # Milesight
    OnvifTopic(  # ONVIF Profile M
        topic="tns1:RuleEngine/Recognition/LicensePlate", confidence_scale=100, picture="ImageURI"
    ),
    OnvifTopic(topic="ALPV.AllPlates", plate="text", confidence=None, picture=None),  # Axis
    OnvifTopic(topic="tnsaxis:CameraApplicationPlatform/LPR", plate="text", confidence=None),
]


class OnvifCamera(_Camera):
    """A camera whose plate events the daemon pulls over ONVIF (PullPoint subscription)."""

    kind: Literal["onvif"]
    host: str = Field(min_length=1)
    port: int = Field(default=80, gt=0, le=65535)
    username: str = Field(min_length=1)
    password: SecretStr
    #: ONVIF events carry no plate colour: this one is used unless the plate text names one.
    color: str = "yellow"
    subscription_seconds: float = Field(default=600, ge=60, le=3600)
    pull_timeout_seconds: float = Field(default=30, ge=1, le=60)
    #: The event's picture (or the snapshot URI) is fetched before the barrier moves (the
    #: pass is recorded with its photos first): past this the pass goes on without it.
    picture_timeout_seconds: float = Field(default=2.0, gt=0, le=10)
    topics: list[OnvifTopic] = Field(default_factory=lambda: list(ONVIF_TOPICS), min_length=1)

    @field_validator("color")
    @classmethod
    def _known_color(cls, value: str) -> str:
        if color_from_word(value) is None:
            raise ValueError(f"unknown plate colour {value!r} (e.g. 'yellow', '黄', 'blue')")
        return value


class VzenithPushCamera(_PushingCamera):
    kind: Literal["vzenith-push"]
    commands_in_reply: ClassVar[bool] = True
    pushes_io_inputs: ClassVar[bool] = True
    reply_deadline_seconds: float = Field(default=3.0, gt=0, lt=5)
    #: A heartbeat / comet poll is held this long waiting for a command to deliver (a guard's
    #: manual open, an LED message); under the camera's 5 s HTTP timeout.
    comet_hold_seconds: float = Field(default=3.0, ge=0, lt=5)


CameraConfig = Annotated[
    PushCamera | VzenithPushCamera | SerialCamera | MqttCamera | DahuaPullCamera | OnvifCamera,
    Field(discriminator="kind"),
]


def _hex_bytes(value: str) -> str:
    try:
        data = bytes.fromhex(value)
    except ValueError:
        raise ValueError("not hex bytes; write them like 'EB 01 43 00'") from None
    if not data:
        raise ValueError("must not be empty")
    return value


HexBytes = Annotated[str, AfterValidator(_hex_bytes)]
SerialPort = Annotated[
    str, Field(min_length=1, description="a device (/dev/ttyUSB0) or socket://host:port")
]


class ModbusBusConfig(_Section):
    """A Modbus line: one relay board (or several on one RS-485 pair), named in [modbus.<name>]
    and used by barriers and detectors with ``bus = "<name>"``."""

    #: "tcp": Modbus TCP; "rtu-over-tcp": RTU frames through a serial server or a Waveshare POE
    #: board (port 4196); "rtu": an RS-485 adapter on this PC (``serial_port``).
    transport: Literal["tcp", "rtu-over-tcp", "rtu"] = "tcp"
    host: str = ""
    port: int = Field(default=502, gt=0, le=65535)
    serial_port: str = ""
    #: Boards ship at 9600 8N1; pymodbus would otherwise use 19200.
    baudrate: int = Field(default=9600, gt=0)
    parity: Literal["N", "E", "O"] = "N"
    timeout_seconds: float = Field(default=1.0, gt=0, le=10)


class VirtualBarrierConfig(_Section):
    driver: Literal["virtual"]

    def build(self, ctx: DriverContext) -> Barrier:
        return VirtualBarrier(f"{ctx.lane_id}-barrier")


class CameraRelayBarrierConfig(_Section):
    driver: Literal["camera-relay"]
    channel: int = Field(default=0, ge=0, le=3)
    pulse_ms: int = Field(default=500, ge=100, le=600_000)

    def build(self, _ctx: DriverContext) -> Barrier:
        return CameraRelayBarrier(self.channel, self.pulse_ms)


class ModbusRelayBarrierConfig(_Section):
    """A relay board channel wired to the barrier's OPEN contact."""

    driver: Literal["modbus-relay"]
    bus: str = Field(min_length=1, description="a [modbus.<name>] section")
    device_id: int = Field(default=1, ge=0, le=255, description="boards ship with 1, 254 or 255")
    channel: int = Field(default=0, ge=0, le=31)
    pulse_ms: int = Field(default=500, ge=100, le=60_000)
    #: "waveshare": board-timed flash pulse; "eletechsup": board-timed 0x06SS command
    #: (also 485io RYN4xx); "plain": coil on, wait, off.
    board: Literal["plain", "waveshare", "eletechsup"] = "plain"
    #: Discrete input wired to the arm's "open" limit switch, if any.
    open_input: int | None = Field(default=None, ge=0, le=31)

    def build(self, ctx: DriverContext) -> Barrier:
        return ModbusRelayBarrier(
            ctx.modbus_bus(self.bus),
            channel=self.channel,
            device_id=self.device_id,
            pulse_ms=self.pulse_ms,
            board=self.board,
            open_input=self.open_input,
        )


class SerialCommandBarrierConfig(_Section):
    """A barrier controller that takes a command frame on a serial line."""

    driver: Literal["serial-command"]
    port: SerialPort
    baudrate: int = Field(default=9600, gt=0)
    open: HexBytes = Field(description="the 'open' frame, without the check byte(s)")
    check: Literal["none", "xor", "sum8", "modbus-crc"] = "none"
    ack: HexBytes | None = None
    ack_timeout_ms: int = Field(default=500, ge=10, le=10_000)

    def build(self, ctx: DriverContext) -> Barrier:
        from drivers.serial_barrier import SerialCommandBarrier  # noqa: PLC0415 - when used

        link = ctx.serial_link(self.port, baudrate=self.baudrate, name="barrier controller")
        return SerialCommandBarrier(
            link,
            bytes.fromhex(self.open),
            check=self.check,
            ack=bytes.fromhex(self.ack) if self.ack else None,
            ack_timeout=self.ack_timeout_ms / 1000,
        )


class HikvisionBarrierConfig(_Section):
    """The barrier wired to a Hikvision ANPR camera, opened through its ISAPI."""

    driver: Literal["hikvision-isapi"]
    url: str = Field(pattern=r"^https?://[^\s/]+", description="相机地址")
    username: str = Field(min_length=1)
    password: SecretStr
    channel: int = Field(default=1, ge=1, le=8)
    timeout_seconds: float = Field(default=2.0, gt=0, le=10)

    def build(self, _ctx: DriverContext) -> Barrier:
        from drivers.hikvision_barrier import HikvisionBarrier  # noqa: PLC0415 - when used

        return HikvisionBarrier(
            self.url,
            self.username,
            self.password.get_secret_value(),
            channel=self.channel,
            timeout=self.timeout_seconds,
        )


BarrierConfig = Annotated[
    VirtualBarrierConfig
    | CameraRelayBarrierConfig
    | ModbusRelayBarrierConfig
    | SerialCommandBarrierConfig
    | HikvisionBarrierConfig,
    Field(discriminator="driver"),
]


class NoDisplayConfig(_Section):
    driver: Literal["none"]

    def build(self, _ctx: DriverContext) -> Display | None:
        return None


class VirtualDisplayConfig(_Section):
    driver: Literal["virtual"]

    def build(self, _ctx: DriverContext) -> Display | None:
        return VirtualDisplay("led")


class _LedBoard(_Section):
    """What every LED controller needs: where its bytes go and the panel size."""

    #: "camera": through the camera's transparent RS-485 port (vzenith-push cameras);
    #: "serial": the board's own RS-485 adapter or TCP port (``port``).
    transport: Literal["camera", "serial"] = "camera"
    channel: int = Field(default=0, ge=0, le=1, description="camera serial port (transport camera)")
    port: str = ""
    baudrate: int = Field(default=9600, gt=0)
    encoding: Literal["gbk", "gb18030", "utf-8"] = "gbk"
    #: Panel size in lines and half-width characters (a Chinese character is 2).
    lines: int = Field(default=4, ge=1, le=16)
    width: int = Field(default=16, ge=2, le=256)
    overflow: Literal["scroll", "truncate"] = "scroll"

    def encoder(self) -> LedEncoder:
        """The board's protocol (each board's model says which)."""
        raise NotImplementedError

    def build(self, ctx: DriverContext) -> Display | None:
        # an LED board's drivers when one is configured, not with every config (issue 19)
        from drivers.camera_reply import CameraSerialTransport  # noqa: PLC0415 - see above
        from drivers.led_display import LedDisplay, LinkTransport  # noqa: PLC0415
        from drivers.panel import Panel  # noqa: PLC0415

        transport: Transport
        if self.transport == "camera":
            transport = CameraSerialTransport(self.channel)
        else:
            link = ctx.serial_link(self.port, baudrate=self.baudrate, name="LED display")
            transport = LinkTransport(link)
        panel = Panel(self.lines, self.width, self.overflow)
        return LedDisplay(self.encoder(), transport, panel, voice=self.speaks)

    @property
    def speaks(self) -> bool:
        """Whether the board also speaks the text (a voice module)."""
        return False


class OlmDisplayConfig(_LedBoard):
    """The "00 64 FF FF" LED + voice board."""

    driver: Literal["olm"]
    voice: bool = False
    seconds: int = Field(default=5, ge=1, le=255)

    def encoder(self) -> LedEncoder:
        from drivers.led_display import OlmEncoder  # noqa: PLC0415 - see _LedBoard.build

        return OlmEncoder(self.encoding, self.seconds)

    @property
    def speaks(self) -> bool:
        return self.voice


class OnbonDisplayConfig(_LedBoard):
    """Onbon 仰邦 BX-5 / BX-6 (TCP port 5005: port = "socket://<ip>:5005")."""

    driver: Literal["onbon"]
    address: int = Field(default=1, ge=1, le=0xFFFE)

    def encoder(self) -> LedEncoder:
        from drivers.led_display import OnbonEncoder  # noqa: PLC0415 - see _LedBoard.build

        return OnbonEncoder(self.width, self.address, self.encoding)


class TextDisplayConfig(_LedBoard):
    """A board that prints what it receives; each line is ``template`` with {line} and {text}."""

    driver: Literal["text"]
    template: str = "{text}\r\n"

    def encoder(self) -> LedEncoder:
        from drivers.led_display import TemplateEncoder  # noqa: PLC0415 - see _LedBoard.build

        return TemplateEncoder(self.template, self.encoding)

    @field_validator("template")
    @classmethod
    def _template_fields(cls, value: str) -> str:
        try:
            value.format(line=1, text="")
        except (KeyError, IndexError, ValueError):
            raise ValueError("only {line} and {text} may be used") from None
        return value


DisplayConfig = Annotated[
    NoDisplayConfig
    | VirtualDisplayConfig
    | OlmDisplayConfig
    | OnbonDisplayConfig
    | TextDisplayConfig,
    Field(discriminator="driver"),
]


class NoDetectorConfig(_Section):
    driver: Literal["none"]

    def build(self, _ctx: DriverContext, _barrier: Barrier) -> Detector | None:
        return None


class VirtualDetectorConfig(_Section):
    driver: Literal["virtual"]
    pass_after_seconds: float = Field(default=1.0, ge=0)

    def build(self, _ctx: DriverContext, barrier: Barrier) -> Detector | None:
        linked = barrier if isinstance(barrier, VirtualBarrier) else None  # it sees the arm
        return VirtualDetector(linked, self.pass_after_seconds)


class ModbusInputDetectorConfig(_Section):
    """The loop detector's relay contact wired to a discrete input of a relay board."""

    driver: Literal["modbus-input"]
    bus: str = Field(min_length=1, description="a [modbus.<name>] section")
    device_id: int = Field(default=1, ge=0, le=255)
    input: int = Field(default=0, ge=0, le=31)
    invert: bool = False
    poll_ms: int = Field(default=50, ge=10, le=5_000)
    debounce_ms: int = Field(default=100, ge=0, le=5_000)

    def build(self, ctx: DriverContext, _barrier: Barrier) -> Detector | None:
        return self.sensor(ctx)

    def sensor(self, ctx: DriverContext) -> Detector:
        """The input as a sensor of its own (a lane's loop, a scale's position sensor)."""
        from drivers.modbus_input import ModbusInputDetector  # noqa: PLC0415 - when used

        return ModbusInputDetector(
            ctx.modbus_bus(self.bus),
            input_=self.input,
            device_id=self.device_id,
            poll_seconds=self.poll_ms / 1000,
            debounce_seconds=self.debounce_ms / 1000,
            invert=self.invert,
        )


class SerialContactDetectorConfig(_Section):
    """A detector or IO module that sends one frame when a vehicle arrives, another when it
    leaves (hex; ASCII "IN1=1" is "49 4E 31 3D 31")."""

    driver: Literal["serial-contact"]
    port: SerialPort
    baudrate: int = Field(default=9600, gt=0)
    present: HexBytes
    gone: HexBytes
    debounce_ms: int = Field(default=100, ge=0, le=5_000)

    def build(self, ctx: DriverContext, _barrier: Barrier) -> Detector | None:
        return self.sensor(ctx)

    def sensor(self, _ctx: DriverContext) -> Detector:
        """The contact as a sensor of its own (a lane's loop, a scale's position sensor)."""
        return SerialContactDetector(
            self.port,
            present=bytes.fromhex(self.present),
            gone=bytes.fromhex(self.gone),
            baudrate=self.baudrate,
            debounce_seconds=self.debounce_ms / 1000,
        )


class CameraInputDetectorConfig(_Section):
    """The loop wired to the camera's IO input, reported by its AlarmGioIn pushes."""

    driver: Literal["camera-input"]
    input: int = Field(default=0, ge=0, le=3, description="0-3 = IO in 1-4")
    invert: bool = False
    debounce_ms: int = Field(default=100, ge=0, le=5_000)

    def build(self, _ctx: DriverContext, _barrier: Barrier) -> Detector | None:
        return CameraInputDetector(
            self.input, debounce_seconds=self.debounce_ms / 1000, invert=self.invert
        )


DetectorConfig = Annotated[
    NoDetectorConfig
    | VirtualDetectorConfig
    | ModbusInputDetectorConfig
    | SerialContactDetectorConfig
    | CameraInputDetectorConfig,
    Field(discriminator="driver"),
]


class SnapshotConfig(_Section):
    """Where to get a photo when a plate arrives without one: an HTTP snapshot URL (Hikvision
    /ISAPI/Streaming/channels/101/picture, Dahua /cgi-bin/snapshot.cgi, an ONVIF snapshot URI),
    or an RTSP stream (a frame is grabbed with OpenCV)."""

    url: str = Field(min_length=1)
    username: str | None = None
    password: SecretStr | None = None
    auth: Literal["digest", "basic"] = "digest"
    timeout_seconds: float = Field(default=2.0, gt=0, le=10)
    #: An RTSP stream is kept open this long after the last photo asked of it.
    stream_idle_seconds: float = Field(default=60.0, ge=0, le=3600)


PositionSensorConfig = Annotated[
    ModbusInputDetectorConfig | SerialContactDetectorConfig, Field(discriminator="driver")
]


class ScaleConfig(_Section):
    """A truck scale (地磅): its weighing indicator on a serial port, ``[scales.<name>]``,
    the rule for a stable weight, and the lanes whose plate reads name the truck on it.

    Defaults: 8N1 for Yaohua/Keli, 7E1 for Toledo (``framing`` overrides); the indicator shows
    kg. Research: research/ledger-and-weighbridge.md §1."""

    port: SerialPort
    protocol: Literal["yaohua-tf0", "yaohua-equals", "yaohua-a12", "toledo", "command"]
    #: The scale's name as guards read it (the status page, the ticket), e.g. "1号地磅";
    #: empty: the section's key.
    name: str = Field(default="", max_length=32)
    baudrate: int = Field(default=9600, gt=0)
    #: Data bits, parity, stop bits, e.g. "8N1" or "7E1"; empty: the protocol's usual one.
    framing: str = Field(default="", pattern=r"^([5-8][NEOMSneoms][12])?$")
    #: The unit the indicator displays (a Toledo's unit bits are trusted only when
    #: toledo_unit_from_status is true).
    unit: Literal["kg", "t", "lb"] = "kg"
    #: yaohua-equals: digits least-significant first (A9 tF=1, A26 format 1) or forward.
    reversed_digits: bool = True
    #: command mode (Yaohua/Keli): the indicator's address letter and how often to ask — at
    #: most half of stable_seconds (a stable weight needs three answers while it holds), and
    #: at most half of silence_seconds when that is set (see silence_seconds).
    address: str = Field(default="A", pattern=r"^[A-Z]$")
    poll_interval_seconds: float = Field(default=0.2, gt=0, le=10)
    #: toledo: checksum byte sent, tare digits sent, what SWB bit 3 = 1 means (clones differ).
    toledo_checksum: bool = True
    toledo_tare: bool = True
    toledo_motion_bit: Literal["moving", "stable"] = "moving"
    toledo_unit_from_status: bool = False
    #: The indicator's division (分度值) in kg; the stable band is this many divisions.
    division_kg: Decimal = Field(default=Decimal(20), gt=0)
    stable_band_divisions: int = Field(default=1, ge=0, le=100)
    stable_seconds: float = Field(default=3.0, gt=0, le=60)
    #: Below this the platform counts as empty (a weighing needs at least this much); above
    #: 0, or the platform never counts as empty and only the first truck is ever weighed.
    minimum_kg: Decimal = Field(default=Decimal(500), gt=0)
    #: The scale's capacity (最大称量, kg, on its nameplate: SCS-100 → 100000). The
    #: indicators' continuous output does not say it, so the default is the largest common
    #: truck scale's, 150 t; a stable weight above it is refused (logged, shown on the status
    #: page, never tied to a plate).
    capacity_kg: Decimal = Field(default=Decimal(150_000), gt=0, le=1_000_000)
    #: The truck-stopped-twice rule: a truck that stopped with some axles still off the
    #: platform, then drove fully on and stopped again within this many seconds of the first
    #: stable weight (and at least minimum_kg, about an axle, heavier, no axle driving off in
    #: between) is weighed at the higher weight — only an open or held first weighing takes
    #: it; a pair already completed keeps its weights (a warning, the clerk checks). Short on
    #: purpose: later, a higher weight is a second truck driving on before the first left,
    #: or a truck loaded while it stands. 0: never. Off with position sensors (they say when
    #: the truck is fully on).
    stopped_twice_seconds: float = Field(default=60.0, ge=0, le=600)
    #: No valid frame for this long: the scale is shown as unavailable. Default 2 s — in
    #: command mode at least 2.5 poll intervals (an indicator that answers every
    #: poll_interval_seconds is not silent between its answers); one set below two poll
    #: intervals is a config error; under 0.5 s too (a continuous indicator's frames come
    #: ~0.05–0.2 s apart: shorter, the scale flapped "unavailable" ten times a second).
    silence_seconds: float = Field(default=2.0, ge=0.5, le=60)
    #: The lanes whose camera reads the plate of the truck on this scale.
    lanes: list[str] = []
    #: A plate read at the lanes waits this long (kept in the ledger) for the weighing that
    #: uses it: one waiting read ties a weighing, more than one holds it as 待确认车牌.
    plate_max_age_seconds: float = Field(default=300.0, gt=0, le=3600)
    #: A re-read supersedes: a read at the same lane within this many seconds after a pending
    #: read of the same colour and a near plate (one character apart, as the lane merges
    #: near-plate reads: a camera refining its read after the pass) is the same vehicle — the
    #: earlier read is no candidate any more. 0: never. Short: a fleet's next truck
    #: (豫G88362挂 after 豫G88361挂) needs the barrier to close and open again, longer than a
    #: camera takes to refine a read, and must never take the first truck's weighing.
    reread_seconds: float = Field(default=5.0, ge=0, le=600)
    #: The stale rule: the usual time from a lane's camera onto the scale. Once a weighing
    #: takes a read, the reads still pending at the same lane taken more than this before it
    #: are stale (trucks from one camera drive on in the order they were read: one read that
    #: long before the truck just weighed never drove on — a car, a truck that skipped the
    #: scale) and no candidates any more.
    drive_on_seconds: float = Field(default=120.0, gt=0, le=3600)
    #: Position sensors (optional): the weight counts only while every one of them reads
    #: "present" — a loop under the platform, or end-of-platform light beams wired to a relay
    #: board's inputs or a serial IO module (a beam that breaks when a wheel is over the edge:
    #: ``invert = true``, so an unbroken beam reads present). Empty: no sensors.
    position: list[PositionSensorConfig] = []

    def _polled_gap(self) -> float | None:
        """Command mode: the longest silence between answers that is no fault (2.5 poll
        intervals: one lost answer and some latency); None for a continuous indicator."""
        return 2.5 * self.poll_interval_seconds if self.protocol == "command" else None

    def silence_after(self) -> float:
        """``silence_seconds`` as set, else its default (in command mode at least
        :meth:`_polled_gap`)."""
        gap = self._polled_gap()
        if gap is None or "silence_seconds" in self.model_fields_set:
            return self.silence_seconds
        return max(self.silence_seconds, gap)

    def stable_rule(self) -> StableRule:
        """The stable-weight rule; in command mode a hold restarts only after a silence longer
        than :meth:`_polled_gap` (readings come once a poll interval, up to 10 s apart)."""
        gap = self._polled_gap()
        return StableRule(
            band_kg=self.division_kg * self.stable_band_divisions,
            hold_seconds=self.stable_seconds,
            minimum_kg=self.minimum_kg,
            capacity_kg=self.capacity_kg,
            max_gap_seconds=max(1.0, gap or 0.0),  # 1 s: a continuous indicator streams
            stopped_twice_seconds=0.0 if self.position else self.stopped_twice_seconds,
        )

    def parser(self) -> FrameParser:
        # a scale's drivers when one is configured, not with every config (issue 19)
        from drivers.weighing import (  # noqa: PLC0415 - see above
            A12Parser,
            CommandReplyParser,
            ToledoParser,
            YaohuaEqualsParser,
            YaohuaTf0Parser,
        )

        if self.protocol == "yaohua-tf0":
            return YaohuaTf0Parser()
        if self.protocol == "yaohua-equals":
            return YaohuaEqualsParser(reversed_digits=self.reversed_digits)
        if self.protocol == "yaohua-a12":
            return A12Parser()
        if self.protocol == "command":
            return CommandReplyParser()
        return ToledoParser(
            checksum=self.toledo_checksum,
            with_tare=self.toledo_tare,
            motion_bit_moving=self.toledo_motion_bit == "moving",
            unit_from_status=self.toledo_unit_from_status,
        )

    def build(self, name: str) -> ScaleIndicator:
        from drivers.scale import Polling, ScaleIndicator  # noqa: PLC0415 - see parser()

        framing = self.framing or ("7E1" if self.protocol == "toledo" else "8N1")
        link = SerialLink(self.port, baudrate=self.baudrate, name=f"scale {name}", framing=framing)
        polling = None
        if self.protocol == "command":
            polling = Polling(self.address, "B", self.poll_interval_seconds)
        return ScaleIndicator(
            link, self.parser(), unit=self.unit, polling=polling, silence_after=self.silence_after()
        )


GoodsName = Annotated[str, Field(min_length=1, max_length=32)]


def _capacity_issue(name: str, scale: ScaleConfig) -> ConfigIssue:
    """A scale whose capacity is not above its minimum weight: named by the key set in the
    file (``minimum_kg`` unless only ``capacity_kg`` was)."""
    if "capacity_kg" in scale.model_fields_set and "minimum_kg" not in scale.model_fields_set:
        return ConfigIssue(
            ("scales", name, "capacity_kg"),
            f"{scale.capacity_kg} kg is not above minimum_kg ({scale.minimum_kg} kg)",
        )
    return ConfigIssue(
        ("scales", name, "minimum_kg"),
        f"{scale.minimum_kg} kg is not below the scale's capacity_kg ({scale.capacity_kg} kg): "
        "no weight would ever count",
    )


class ErpConfig(_Section):
    """The ERP push API, ``[erp]`` (edge/web/erp_api.py): off until ``token`` is set."""

    #: The bearer token the ERP sends; better in EDGE_ERP__TOKEN.
    token: SecretStr | None = Field(default=None, min_length=16, description="the ERP's token")
    #: At lanes without a scale, a pass in this direction with a valid unused plan for its
    #: plate sends the plan's goods and expected tonnage as its goods record.
    report_direction: Literal["in", "out"] = "out"


class WeighingConfig(_Section):
    """Two weighings of one truck, ``[weighing]`` (research/ledger-and-weighbridge.md §1.9)."""

    #: A first weighing without its second within this many hours is reported as unfinished
    #: and never completed.
    max_hours_between: float = Field(default=24.0, gt=0, le=24 * 31)
    #: Preset tare (预置皮重) in kg per plate: one weighing gives the net.
    preset_tare_kg: dict[str, Annotated[Decimal, Field(gt=0)]] = {}
    #: The goods name (货物名称, hwmc, ≤ 32 characters) of a completed weighing: the plate's,
    #: else the lane's (the lane whose read completed it), else default_goods; empty: none
    #: (no goods record until one is given).
    goods_by_plate: dict[str, GoodsName] = {}
    goods_by_lane: dict[str, GoodsName] = {}
    default_goods: str = Field(default="", max_length=32)
    #: The goods a clerk chooses from on the status page (empty: any name may be typed).
    goods: list[GoodsName] = []

    @field_validator("preset_tare_kg", "goods_by_plate")
    @classmethod
    def _plates(cls, value: dict[str, Any]) -> dict[str, Any]:
        """Keys that are plates normalised as every source's (``豫a 12345`` → ``豫A12345``);
        the others are kept as written and named by :func:`_weighing_issues`. Two keys of
        one plate are refused (which one would count?)."""
        found: dict[str, Any] = {}
        written: dict[str, str] = {}
        for key, item in value.items():
            plate = _plate_key(key) or key
            if plate in found:
                raise ValueError(f"{written[plate]!r} and {key!r} are one plate ({plate})")
            found[plate], written[plate] = item, key
        return found

    def goods_for(self, plate: str, lane: str) -> str | None:
        return (
            self.goods_by_plate.get(plate)
            or self.goods_by_lane.get(lane)
            or (self.default_goods or None)
        )


class LaneConfig(_Section):
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$", description="车道标识")
    name: str = ""
    gate_code: str = Field(pattern=r"^\d{2}$", description="道闸编号 §6.3")
    direction: Literal["in", "out"]
    gate_secret_code: SecretStr | None = Field(
        default=None, max_length=32, description="道闸授权号 (province mode)"
    )
    camera: CameraConfig
    barrier: BarrierConfig
    led: DisplayConfig = NoDisplayConfig(driver="none")
    detector: DetectorConfig = NoDetectorConfig(driver="none")
    snapshot: SnapshotConfig | None = None
    #: A second camera behind the vehicle: its photo is sent as photo number 2 (§7.2).
    rear_snapshot: SnapshotConfig | None = None
    confirm_timeout_seconds: Seconds = 60.0


class StorageConfig(_Section):
    database: Path = Path("/var/lib/edge-gate/edge.db")
    photo_dir: Path = Path("/var/lib/edge-gate/photos")
    photo_retention_days: Seconds = 365.0
    #: Keep the camera's original beside a photo re-encoded to fit the platform's 1 MB
    #: (deleted with it; not counted in photo_budget_mb).
    keep_original_photos: bool = False
    #: A camera photo of more pixels than this is decoded reduced (1/2, 1/4, 1/8) to fit; a
    #: progressive one, or one still over it at 1/8, is refused (the pass kept without it).
    max_photo_pixels: int = Field(default=16_000_000, ge=100_000, le=200_000_000)
    #: Photos decoded (each checked, some re-encoded) at the same time at most; each may
    #: take tens of MB.
    photo_decodes: int = Field(default=2, ge=1, le=16)
    photo_budget_mb: float = Field(default=0, ge=0, description="0: no budget, only the floor")
    #: Outbox entries the platform acknowledged are deleted this many days after they were
    #: sent (once their pass has nothing left to send); the passes and photos stay. 0: keep
    #: them all (the outbox then grows by two rows a pass for ever).
    outbox_sent_keep_days: float = Field(default=30, ge=0)
    #: What a camera sent with each read (its message, images elided: for diagnosing a
    #: misread or a camera's format) is deleted this many days after the read; the pass, its
    #: reads and the platform's answer stay. 0: keep every message (about 150 bytes to 4 KB a
    #: read, for ever).
    diagnosis_keep_days: float = Field(default=90, ge=0)
    min_free_mb: float = Field(default=1024, ge=0)
    #: Guard overrides carried out while the ledger cannot be written are kept here and merged
    #: into the ledger once it can (another file system than the ledger's: RAM by default).
    fallback_journal: Path = Path("/run/edge-gate/fallback.jsonl")
    #: While the ledger cannot be written: "stay-shut" — vehicles are not let through (the
    #: camera gets an error and keeps its read; the LED says why); "open" — a vehicle the
    #: gate would let through is, and its pass goes to the fallback journal like an override.
    ledger_fail_policy: Literal["stay-shut", "open"] = "stay-shut"


class ForwarderConfig(_Section):
    concurrency: int = Field(default=4, ge=1, le=64)
    batch_size: int = Field(default=50, ge=1, le=500)
    backoff_initial_seconds: Seconds = 2.0
    backoff_max_seconds: Seconds = 300.0
    alarm_unsent_age_seconds: Seconds = 300.0


class WebConfig(_Section):
    host: str = "127.0.0.1"
    #: scrypt hash of the password for actions on the status page, set by `edge set-password`.
    #: There is no default: without it nothing can be changed through the web.
    password_hash: str | None = Field(default=None, pattern=r"^scrypt\$")
    port: int = Field(default=8088, ge=0, le=65535)
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    #: A connection must send its request headers within this of connecting (or of its last
    #: response), and its body within ``body_timeout_seconds``; else it is closed (408).
    header_timeout_seconds: float = Field(default=10, gt=0, le=300)
    body_timeout_seconds: float = Field(default=30, gt=0, le=600)
    #: Connections beyond these (in total / from one address) are closed as they arrive;
    #: keep them under the unit's LimitNOFILE (4096).
    max_connections: int = Field(default=512, ge=1, le=100_000)
    max_connections_per_address: int = Field(default=64, ge=1, le=100_000)


class PhotoWebConfig(_Section):
    """The listener the province platform fetches pass photos from (province mode): photos
    only, at unguessable URLs; put it where the platform reaches it and nothing else."""

    host: str = "127.0.0.1"
    port: int = Field(default=8089, ge=0, le=65535)
    #: Only these source addresses / networks may fetch (the platform's); empty: any.
    allow: Networks = []
    #: The key the photo URLs are signed with (created at first start, kept across restarts);
    #: default: photo-url.key beside the ledger.
    key_file: Path | None = None


class ReplicaConfig(_Section):
    """A continuous copy of the ledger (Litestream) and the photos (rclone) off the box
    (docs/replication.md). Credentials come from the environment only: an S3 store's keys in
    ``LITESTREAM_ACCESS_KEY_ID`` / ``LITESTREAM_SECRET_ACCESS_KEY`` (or the AWS names), always
    (a gate PC has no cloud instance role; ``edge check-config`` refuses S3 without them);
    SFTP logs in with ``key_file``. Read at start only: a changed target needs a restart."""

    type: Literal["file", "sftp", "s3"]
    #: file: a directory (a mounted NAS share); sftp: a directory on the server; s3: the key
    #: prefix in the bucket. One per gate PC.
    path: str = Field(min_length=1)
    host: str = ""  # sftp
    port: int = Field(default=22, gt=0, le=65535)
    user: str = ""
    key_file: Path | None = None  # sftp: the private key (the secret stays in that file)
    host_key: str = Field(default="", description="sftp: the server's public host key")
    bucket: str = ""  # s3
    endpoint: str = Field(default="", description="s3: MinIO/OSS/COS address; empty: AWS")
    region: str = "us-east-1"
    force_path_style: bool = False  # MinIO: true
    #: s3 over https with a private certificate (a MinIO on the plant's server): the CA
    #: certificate (PEM) that signed it. Litestream and rclone then trust that CA only.
    ca_file: Path | None = None
    sync_interval_seconds: float = Field(default=1.0, gt=0, le=3600)
    #: How often the daemon asks whether the replica has everything committed (the lag).
    check_interval_seconds: float = Field(default=5.0, gt=0, le=600)
    #: Alarm when the replica may be behind the ledger by more than this.
    lag_alarm_seconds: float = Field(default=60.0, gt=0)
    #: How often the daemon asks Litestream whether the replica can be restored now (a dry
    #: run of ``litestream restore``): a target wiped or replaced behind its back would
    #: otherwise take new transactions but hold no snapshot to restore from.
    restore_check_seconds: float = Field(default=600.0, gt=0, le=86_400)
    photos: bool = True
    photo_interval_seconds: float = Field(default=60.0, gt=0, le=86_400)

    @field_validator("host_key")
    @classmethod
    def _without_comment(cls, value: str) -> str:
        """A ``.pub`` line pasted whole: its trailing comment (``root@nas``) is dropped."""
        return " ".join(value.split()[:2])

    @field_validator("host", "endpoint")
    @classmethod
    def _no_credentials(cls, value: str) -> str:
        """No user or password inside an address (``user:secret@nas``,
        ``http://KEY:SECRET@minio``): the address is shown on the status page, in
        /healthz and in every log line; the SFTP user goes in ``user`` with ``key_file``,
        S3 keys in the environment (README, *Replication*). Refused without echoing it."""
        if "@" in value:
            raise PydanticCustomError(
                NOT_ECHOED,
                "no user or password in an address (it is shown and logged): the SFTP user "
                "goes in user = …, S3 keys in the environment",
            )
        return value


class MqttTelemetryConfig(_Section):
    """Publish passes and status to a broker; take remote commands (signed) from it."""

    host: str = Field(min_length=1)
    port: int = Field(default=1883, gt=0, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    #: Topics: <prefix>/<enterprise code>/… (status, link, gates/<gate>/<in|out>/status,
    #: replica, passes, commands).
    topic_prefix: str = Field(default="edge-gate", pattern=r"^[A-Za-z0-9_/-]+$")
    #: Shared secret for HMAC-SHA256 signatures on commands; without it commands are refused.
    command_secret: SecretStr | None = None
    command_max_age_seconds: float = Field(default=60, gt=0, le=3600)
    queue_size: int = Field(default=1000, ge=10, le=100_000)
    status_interval_seconds: float = Field(default=30, gt=0)


class LoggingConfig(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "console"] = "json"


class LedTextConfig(_Section):
    """LED wording. Placeholders: {plate} {color} {emission} {fuel} {control} {reason}."""

    open: list[str] = ["{plate}", "{emission} {control}", "请通行"]
    refuse: list[str] = ["{plate}", "{reason}", "禁止通行"]
    #: Shown to a vehicle that cannot be recorded because the ledger cannot be written (the
    #: barrier stays shut; a guard can still open). Plain text, no placeholders.
    ledger_fault: list[str] = ["系统故障 无法记录", "请联系门卫"]

    @field_validator("open", "refuse")
    @classmethod
    def _known_placeholders(cls, templates: list[str]) -> list[str]:
        for template in templates:
            try:
                unknown = unknown_placeholders(template)
            except ValueError as exc:
                raise ValueError(f"bad template {template!r}: {exc}") from None
            if unknown:
                allowed = ", ".join(sorted(PLACEHOLDERS))
                raise ValueError(f"unknown placeholder(s) {sorted(unknown)}; use {allowed}")
        return templates


class Config(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="EDGE_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    site: SiteConfig
    platform: PlatformConfig
    lanes: list[LaneConfig] = Field(min_length=1)
    modbus: dict[str, ModbusBusConfig] = {}
    scales: dict[str, ScaleConfig] = {}
    weighing: WeighingConfig = WeighingConfig()
    erp: ErpConfig = ErpConfig()
    lists: ListsConfig = ListsConfig()
    mqtt: MqttTelemetryConfig | None = None
    replica: ReplicaConfig | None = None
    control_plans: list[ControlPlanConfig] = []
    decision: DecisionConfig = DecisionConfig()
    storage: StorageConfig = StorageConfig()
    forwarder: ForwarderConfig = ForwarderConfig()
    web: WebConfig = WebConfig()
    photo_web: PhotoWebConfig = PhotoWebConfig()
    logging: LoggingConfig = LoggingConfig()
    led_text: LedTextConfig = LedTextConfig()

    @classmethod
    @override
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML file arrives as init kwargs; the environment overrides it.
        return env_settings, init_settings

    def lane(self, lane_id: str) -> LaneConfig:
        for lane in self.lanes:
            if lane.id == lane_id:
                return lane
        raise KeyError(lane_id)


def _platform_issues(cfg: Config) -> list[ConfigIssue]:
    p = cfg.platform
    missing: list[tuple[str | int, ...]] = []
    if p.mode == "city":
        if not p.organ:
            missing.append(("platform", "organ"))
        if len(p.password.get_secret_value()) > 30:
            return [ConfigIssue(("platform", "password"), "the city API allows 30 characters")]
    else:
        missing += [
            ("platform", key)
            for key in ("org_secret_code", "company_secret_code")
            if getattr(p, key) is None
        ]
        missing += [
            ("lanes", i, "gate_secret_code")
            for i, lane in enumerate(cfg.lanes)
            if lane.gate_secret_code is None
        ]
    return [ConfigIssue(loc, f"required in {p.mode} mode") for loc in missing]


def _semantic_issues(cfg: Config) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = _platform_issues(cfg)
    seen_ids: set[str] = set()
    seen_gates: set[tuple[str, str]] = set()
    for i, lane in enumerate(cfg.lanes):
        if lane.id in seen_ids:
            issues.append(ConfigIssue(("lanes", i, "id"), f"lane id {lane.id!r} is used twice"))
        seen_ids.add(lane.id)
        gate = (lane.gate_code, lane.direction)
        if gate in seen_gates:
            issues.append(
                ConfigIssue(
                    ("lanes", i, "gate_code"),
                    f"gate {lane.gate_code} direction {lane.direction!r} is configured twice; "
                    "serial numbers would collide",
                )
            )
        seen_gates.add(gate)
        if lane.barrier.driver == "camera-relay" and not lane.camera.commands_in_reply:
            issues.append(
                ConfigIssue(
                    ("lanes", i, "barrier", "driver"),
                    "'camera-relay' needs a camera that takes commands in its push reply "
                    f"(camera.kind = {_camera_kinds('commands_in_reply')})",
                )
            )
        if lane.detector.driver == "virtual" and lane.barrier.driver != "virtual":
            issues.append(
                ConfigIssue(
                    ("lanes", i, "detector", "driver"),
                    "the 'virtual' detector only sees vehicles of a 'virtual' barrier",
                )
            )
        issues += _device_issues(cfg, i, lane)
    issues += _bus_issues(cfg)
    issues += _scale_issues(cfg)
    issues += _weighing_issues(cfg)
    issues += _shared_port_issues(cfg)
    issues += _replica_issues(cfg.replica, cfg.storage.database)
    return issues


def _camera_kinds(capability: str) -> str:
    """The camera kinds that can do ``capability`` (a :class:`_Camera` flag), for a message."""
    sections = get_args(get_args(CameraConfig)[0])
    kinds = [
        kind
        for section in sections
        if getattr(section, capability)
        for kind in get_args(section.model_fields["kind"].annotation)
    ]
    return " or ".join(repr(kind) for kind in kinds)


def _device_issues(cfg: Config, i: int, lane: LaneConfig) -> list[ConfigIssue]:
    issues = []
    led, detector = lane.led, lane.detector
    if isinstance(led, OlmDisplayConfig | OnbonDisplayConfig | TextDisplayConfig):
        if led.transport == "camera" and not lane.camera.commands_in_reply:
            issues.append(
                ConfigIssue(
                    ("lanes", i, "led", "transport"),
                    "'camera' needs a camera that takes commands in its push reply "
                    f"(camera.kind = {_camera_kinds('commands_in_reply')}); "
                    "use 'serial' with port = ...",
                )
            )
        if led.transport == "serial" and not led.port:
            issues.append(
                ConfigIssue(
                    ("lanes", i, "led", "port"),
                    "required with transport = 'serial' (e.g. '/dev/ttyUSB1' or "
                    "'socket://192.168.1.60:5005')",
                )
            )
    if detector.driver == "camera-input" and not lane.camera.pushes_io_inputs:
        issues.append(
            ConfigIssue(
                ("lanes", i, "detector", "driver"),
                "'camera-input' needs a camera that pushes its IO inputs "
                f"(camera.kind = {_camera_kinds('pushes_io_inputs')})",
            )
        )
    for part in (lane.barrier, detector):
        bus = getattr(part, "bus", None)
        if bus is not None and bus not in cfg.modbus:
            known = ", ".join(sorted(cfg.modbus)) or "none defined"
            where = "barrier" if part is lane.barrier else "detector"
            issues.append(
                ConfigIssue(
                    ("lanes", i, where, "bus"),
                    f"no [modbus.{bus}] section ({known})",
                )
            )
    return issues


def _is_host_key(text: str) -> bool:
    """An OpenSSH public key line ``TYPE BASE64``: the blob decodes and names its type."""
    parts = text.split()
    if len(parts) != 2:
        return False
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except ValueError:
        return False
    name = parts[0].encode()
    return len(blob) > 4 + len(name) and blob[4 : 4 + len(name)] == name


def _replica_value_issues(replica: ReplicaConfig, database: Path) -> list[ConfigIssue]:
    """What a replica's values would make go wrong although each is well typed."""
    issues = []
    key_file = replica.key_file
    if replica.type == "sftp" and key_file is not None and key_file.suffix == ".pub":
        issues.append(ConfigIssue(("replica", "key_file"), "the private key, not the .pub file"))
    if replica.type == "file" and Path(replica.path).resolve().is_relative_to(
        database.resolve().parent
    ):
        issues.append(
            ConfigIssue(("replica", "path"), "inside the ledger's own directory: not off the box")
        )
    if replica.endpoint and not replica.endpoint.startswith(("http://", "https://")):
        issues.append(
            ConfigIssue(("replica", "endpoint"), "an address with http:// or https:// in front")
        )
    ca_file = replica.ca_file
    if ca_file is not None and ca_file.is_file():
        if b"-----BEGIN CERTIFICATE-----" not in ca_file.read_bytes()[:65536]:
            issues.append(ConfigIssue(("replica", "ca_file"), "not a PEM certificate"))
        if replica.endpoint.startswith("http://"):
            issues.append(ConfigIssue(("replica", "ca_file"), "only for an https:// endpoint"))
    if replica.lag_alarm_seconds <= replica.check_interval_seconds:
        issues.append(
            ConfigIssue(
                ("replica", "lag_alarm_seconds"),
                "more than check_interval_seconds (the lag is measured that often)",
            )
        )
    return issues


def _replica_issues(replica: ReplicaConfig | None, database: Path) -> list[ConfigIssue]:
    if replica is None:
        return []
    needed = {"file": (), "sftp": ("host", "user", "key_file", "host_key"), "s3": ("bucket",)}
    issues = [
        ConfigIssue(("replica", key), f"required for type = {replica.type!r}")
        for key in needed[replica.type]
        if not getattr(replica, key)
    ]
    issues += _replica_value_issues(replica, database)
    if replica.type == "sftp" and replica.host_key and not _is_host_key(replica.host_key):
        issues.append(
            ConfigIssue(
                ("replica", "host_key"),
                "the server's public key as 'ssh-ed25519 AAAA…' (ssh-keyscan -t ed25519 HOST)",
            )
        )
    if replica.type == "sftp" and replica.key_file and not replica.key_file.is_file():
        issues.append(ConfigIssue(("replica", "key_file"), f"no such file: {replica.key_file}"))
    elif replica.type == "sftp" and replica.key_file:
        mode = replica.key_file.stat().st_mode & 0o777
        if mode & 0o077:  # a private key others on the PC can read (ssh itself refuses one)
            issues.append(
                ConfigIssue(
                    ("replica", "key_file"),
                    f"{replica.key_file} has mode {mode:04o}, readable beyond its owner: "
                    f"chmod 600 {replica.key_file} (owner edge-gate)",
                )
            )
    if replica.ca_file is not None and replica.type != "s3":
        issues.append(ConfigIssue(("replica", "ca_file"), "only for type = 's3' (https)"))
    elif replica.ca_file is not None and not replica.ca_file.is_file():
        issues.append(ConfigIssue(("replica", "ca_file"), f"no such file: {replica.ca_file}"))
    if replica.type == "file" and not replica.path.startswith("/"):
        issues.append(ConfigIssue(("replica", "path"), "an absolute directory"))
    return issues


def _bus_issues(cfg: Config) -> list[ConfigIssue]:
    issues = []
    for name, bus in cfg.modbus.items():
        if bus.transport == "rtu" and not bus.serial_port:
            issues.append(ConfigIssue(("modbus", name, "serial_port"), "required for 'rtu'"))
        if bus.transport != "rtu" and not bus.host:
            issues.append(ConfigIssue(("modbus", name, "host"), f"required for {bus.transport!r}"))
    return issues


def _scale_issues(cfg: Config) -> list[ConfigIssue]:
    lanes = {lane.id for lane in cfg.lanes}
    known = ", ".join(cfg.modbus) or "none"
    owner: dict[str, str] = {}
    twice: list[ConfigIssue] = []
    for name, scale in cfg.scales.items():
        for lane in scale.lanes:
            if owner.setdefault(lane, name) != name:  # its reads would tie either scale's
                twice.append(
                    ConfigIssue(
                        ("scales", name, "lanes"),
                        f"lane {lane!r} is already a lane of [scales.{owner[lane]}]",
                    )
                )
    repeated = [
        ConfigIssue(("scales", name, "lanes"), f"lane {lane!r} is listed twice")
        for name, scale in cfg.scales.items()
        for lane in sorted({lane for lane in scale.lanes if scale.lanes.count(lane) > 1})
    ]
    stale_rule = [
        ConfigIssue(
            ("scales", name, "drive_on_seconds"),
            f"{scale.drive_on_seconds:g} s is not below plate_max_age_seconds "
            f"({scale.plate_max_age_seconds:g} s): the stale rule would never drop a read "
            "(a read that old is no candidate anyway)",
        )
        for name, scale in cfg.scales.items()
        if scale.drive_on_seconds >= scale.plate_max_age_seconds
    ]
    return (
        twice
        + repeated
        + stale_rule
        + [
            ConfigIssue(("scales", name, "lanes"), f"no lane {lane!r} (lanes: {', '.join(lanes)})")
            for name, scale in cfg.scales.items()
            for lane in scale.lanes
            if lane not in lanes
        ]
        + [
            _capacity_issue(name, scale)
            for name, scale in cfg.scales.items()
            if scale.capacity_kg <= scale.minimum_kg
        ]
        + [
            ConfigIssue(
                ("scales", name, "lanes"),
                "no lane: a scale needs the lanes whose "
                "camera reads the plate of the truck on it (without, no weighing is "
                "ever tied to a plate or a pass)",
            )
            for name, scale in cfg.scales.items()
            if not scale.lanes
        ]
        + [issue for name, scale in cfg.scales.items() for issue in _polling_issues(name, scale)]
        + [
            ConfigIssue(
                ("scales", name, "position", i, "bus"), f"no [modbus.{bus}] section ({known})"
            )
            for name, scale in cfg.scales.items()
            for i, sensor in enumerate(scale.position)
            if (bus := getattr(sensor, "bus", None)) is not None and bus not in cfg.modbus
        ]
    )


def _polling_issues(name: str, scale: ScaleConfig) -> list[ConfigIssue]:
    """Command mode: an indicator asked every ``poll_interval_seconds`` must answer often
    enough for a stable weight (three answers within ``stable_seconds``) and for its health
    (two answers within ``silence_seconds``, when that is set)."""
    if scale.protocol != "command":
        return []
    poll = scale.poll_interval_seconds
    issues: list[ConfigIssue] = []
    if poll > scale.stable_seconds / 2:
        issues.append(
            ConfigIssue(
                ("scales", name, "poll_interval_seconds"),
                f"{poll:g} s is too slow for stable_seconds = {scale.stable_seconds:g}: a stable "
                f"weight needs three answers while it holds (at most {scale.stable_seconds / 2:g})",
            )
        )
    if "silence_seconds" in scale.model_fields_set and scale.silence_seconds < 2 * poll:
        issues.append(
            ConfigIssue(
                ("scales", name, "silence_seconds"),
                f"below two poll intervals ({2 * poll:g} s, poll_interval_seconds = {poll:g}): "
                "the scale would show as unavailable between the indicator's answers",
            )
        )
    return issues


def _weighing_issues(cfg: Config) -> list[ConfigIssue]:
    """``[weighing]``: preset tares and goods by plate keyed by plates, goods by known lanes."""
    weighing = cfg.weighing
    lanes = ", ".join(lane.id for lane in cfg.lanes) or "none"
    known = {lane.id for lane in cfg.lanes}
    plate_keyed = (
        ("preset_tare_kg", weighing.preset_tare_kg),
        ("goods_by_plate", weighing.goods_by_plate),
    )
    return (
        [
            ConfigIssue(("weighing", key, plate), "not a plate (README: plate grammar)")
            for key, table in plate_keyed
            for plate in table
            if _plate_key(plate) != plate
        ]
        + [
            ConfigIssue(("weighing", "goods_by_lane", lane), f"no lane {lane!r} (lanes: {lanes})")
            for lane in weighing.goods_by_lane
            if lane not in known
        ]
        + _goods_issues(cfg)
    )


def _goods_issues(cfg: Config) -> list[ConfigIssue]:
    """Goods names every goods record would refuse (blank, control characters: the goods
    record's own check), and preset tares some scale here cannot weigh a load over (not below its
    capacity: a preset tare counts on every scale)."""
    weighing = cfg.weighing
    names: list[tuple[tuple[str | int, ...], str]] = [
        *((("weighing", "goods_by_plate", k), v) for k, v in weighing.goods_by_plate.items()),
        *((("weighing", "goods_by_lane", k), v) for k, v in weighing.goods_by_lane.items()),
        *((("weighing", "goods", i), v) for i, v in enumerate(weighing.goods)),
    ]
    if weighing.default_goods:
        names.append((("weighing", "default_goods"), weighing.default_goods))
    issues = []
    for key, name in names:
        try:
            goods_name(name)
        except GoodsError as exc:
            issues.append(ConfigIssue(key, str(exc)))
    for plate, kg in weighing.preset_tare_kg.items():
        # a preset tare applies on every scale (no key ties a plate to one): each must be able
        # to weigh the vehicle with a load on it, or its net could never be above zero there
        cramped = [
            f"[scales.{name}] ({scale.capacity_kg} kg)"
            for name, scale in cfg.scales.items()
            if kg >= scale.capacity_kg
        ]
        if cramped:
            issues.append(ConfigIssue(
                ("weighing", "preset_tare_kg", plate), f"{kg} kg leaves no load on "
                f"{', '.join(cramped)}: a preset tare must be below each scale's capacity_kg",
            ))  # fmt: skip
        light = [
            f"[scales.{name}] ({scale.minimum_kg} kg)"
            for name, scale in cfg.scales.items()
            if kg < scale.minimum_kg
        ]
        if light:  # 15.2 meant as tonnes: the net would be the whole gross weight
            issues.append(ConfigIssue(
                ("weighing", "preset_tare_kg", plate), f"{kg} kg is lighter than the "
                f"minimum_kg of {', '.join(light)}, lighter than any vehicle: a preset tare is "
                f"in kg (15.2 t is 15200)",
            ))  # fmt: skip
    seen: set[str] = set()
    for i, name in enumerate(weighing.goods):
        if name.strip() in seen:
            issues.append(ConfigIssue(("weighing", "goods", i), f"{name!r} is listed twice"))
        seen.add(name.strip())
    return issues


def _serial_ports(cfg: Config) -> list[tuple[tuple[str | int, ...], str]]:
    """Every serial device the config opens, with the key that names it."""
    ports: list[tuple[tuple[str | int, ...], str]] = [
        (("modbus", name, "serial_port"), bus.serial_port)
        for name, bus in cfg.modbus.items()
        if bus.transport == "rtu"
    ]
    ports += [(("scales", name, "port"), scale.port) for name, scale in cfg.scales.items()]
    ports += [
        (("scales", name, "position", i, "port"), sensor.port)
        for name, scale in cfg.scales.items()
        for i, sensor in enumerate(scale.position)
        if isinstance(sensor, SerialContactDetectorConfig)
    ]
    for i, lane in enumerate(cfg.lanes):
        parts: list[tuple[str, object]] = [
            ("camera", lane.camera),
            ("barrier", lane.barrier),
            ("detector", lane.detector),
        ]
        if getattr(lane.led, "transport", None) == "serial":
            parts.append(("led", lane.led))
        ports += [
            (("lanes", i, where, "port"), port)
            for where, part in parts
            if isinstance(port := getattr(part, "port", None), str)
        ]
    return ports


def _device(port: str) -> str:
    """The device a port names: a path resolved (``/dev/serial/by-id/…`` is a symlink to
    ``/dev/ttyUSB0``: one device); a ``socket://`` or other URL as written."""
    return port if "://" in port else os.path.realpath(port)


def _shared_port_issues(cfg: Config) -> list[ConfigIssue]:
    issues, seen = [], dict[str, tuple[str | int, ...]]()
    for key, port in _serial_ports(cfg):
        device = _device(port)
        if device in seen:
            same = "" if device == port else f" (= {device})"
            issues.append(
                ConfigIssue(
                    key,
                    f"{port}{same} is opened by another driver too ({format_loc(seen[device])}); "
                    "one port, one device",
                )
            )
        seen.setdefault(device, key)
    return issues


#: Every file or directory the config names, by section: relative ones are read relative to
#: the config file. (A file replica's directory must be absolute: it is another disk.)
_PATH_KEYS: dict[str, tuple[str, ...]] = {
    "storage": ("database", "photo_dir", "fallback_journal"),
    "photo_web": ("key_file",),
    "replica": ("key_file", "ca_file"),
}


def _resolve_paths(data: dict[str, Any], base: Path) -> None:
    for section, keys in _PATH_KEYS.items():
        table = data.get(section)
        if not isinstance(table, dict):
            continue
        for key in keys:
            value = table.get(key)
            if isinstance(value, str) and value and not Path(value).is_absolute():
                table[key] = str(base / value)


def _is_list(annotation: Any) -> bool:
    """Whether a field's annotation is a list (or an optional one)."""
    if get_origin(annotation) in (list, tuple, Sequence):
        return True
    return get_origin(annotation) in (Union, UnionType) and any(
        _is_list(arg) for arg in get_args(annotation)
    )


def _into_list(loc: tuple[str | int, ...]) -> tuple[str | int, ...] | None:
    """The list field an ``EDGE_…`` variable's key path goes into (``lanes`` for
    ``EDGE_LANES__0__ID``), or None. pydantic-settings cannot set one item of a list (nor a key
    of one): it would replace the whole list of the file with a table of that one key."""
    models: list[type[BaseModel]] = [Config]
    for depth, part in enumerate(loc):
        if isinstance(part, int):
            return loc[:depth]
        fields = [m.model_fields[part] for m in models if part in m.model_fields]
        if not fields:
            return None  # a key of a table of names (modbus, scales), or unknown
        if depth + 1 < len(loc) and any(_is_list(f.annotation) for f in fields):
            return loc[: depth + 1]
        models = [m for f in fields for m in models_in(f.annotation)]
    return None


def parse_config(text: str, source: str = "<config>", base_dir: Path | None = None) -> Config:
    """Parse and validate config text; raise :class:`ConfigError` listing every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [ConfigIssue((), f"TOML syntax error: {exc}")]) from None
    if base_dir is not None:
        _resolve_paths(data, base_dir)
    lines = locate_keys(text)
    env = env_overrides(os.environ)
    sections = ", ".join(Config.model_fields)
    unknown = [
        ConfigIssue((loc[0],), f"not a config section (sections: {sections})", variable=name)
        for loc, name in env.items()
        if loc[0] not in Config.model_fields
    ]
    listed = [
        ConfigIssue(
            into,
            "list items cannot be overridden by environment; edit "
            f"{format_loc(loc) if any(isinstance(p, int) for p in loc) else 'the list'} "
            "in the file",
            variable=name,
        )
        for loc, name in env.items()
        if loc[0] in Config.model_fields and (into := _into_list(loc)) is not None
    ]
    if listed:  # before the model: it would read them and say "must be a valid list"
        raise ConfigError(source, [*(i.with_line(lines, env) for i in unknown), *listed])
    try:
        cfg = Config(**data)
    except ValidationError as exc:
        found = issues_from_validation(exc, data, lines, Config, env)
        raise ConfigError(source, [*(i.with_line(lines, env) for i in unknown), *found]) from None
    except SettingsError as exc:  # a table's or a list's variable that is not JSON
        raise ConfigError(source, [*unknown, *_not_json(exc, env)]) from None
    issues = [*unknown, *_semantic_issues(cfg)]
    if issues:
        raise ConfigError(source, [issue.with_line(lines, env) for issue in issues])
    return cfg


def _not_json(error: SettingsError, env: Mapping[Loc, str]) -> list[ConfigIssue]:
    """pydantic-settings' refusal of a variable whose key is a table or a list and whose
    value is not JSON (it names only the section), as an issue of each such variable there."""
    named = re.search(r'field "(\w+)"', str(error))
    section = named.group(1) if named else None
    issues = []
    for loc, name in env.items():
        if loc[0] != section:
            continue
        try:
            json.loads(os.environ[name])
        except ValueError:
            issues.append(
                ConfigIssue(
                    loc,
                    "not JSON: a table or a list from the environment is written in JSON, "
                    f"e.g. {name}='[...]' or '{{...}}'",
                    variable=name,
                )
            )
    return issues or [ConfigIssue((), f"environment: {error}")]


#: Passwords that are the example's or the simulators': fine against a simulator, never on site.
PLACEHOLDER_PASSWORDS = frozenset({"sim-password", "change-me"})


def config_warnings(cfg: Config) -> list[ConfigIssue]:
    """Worth a warning (at check and at start), not a refusal: what is still the example's
    (the example runs unchanged against the simulators), and a pushing camera's lane open to
    every address on a listener that is not on loopback."""
    issues: list[ConfigIssue] = []
    if cfg.platform.password.get_secret_value() in PLACEHOLDER_PASSWORDS:
        issues.append(
            ConfigIssue(
                ("platform", "password"),
                "still the example's placeholder (the simulator's password): set the "
                "platform's real one, better in EDGE_PLATFORM__PASSWORD",
            )
        )
    if not _loopback(cfg.web.host):
        for i, lane in enumerate(cfg.lanes):
            if isinstance(lane.camera, _PushingCamera) and not lane.camera.allow_from:
                issues.append(
                    ConfigIssue(
                        ("lanes", i, "camera", "allow_from"),
                        f"lane {lane.id} takes pushes from any address on the network: set "
                        "the camera's address here — then only it may push, and slow or many "
                        "connections from elsewhere cannot crowd it out of the listener's "
                        "connection caps ([web] max_connections)",
                    )
                )
    return issues


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def load_config(path: Path) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [ConfigIssue((), f"cannot read the file: {exc}")]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), [ConfigIssue((), f"not UTF-8 text: {exc}")]) from None
    return parse_config(text, str(path), path.resolve().parent)
