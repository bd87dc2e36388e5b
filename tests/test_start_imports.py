"""What the daemon's start loads (issue 19, steady RSS ≤ 90 MiB): libraries only a rarely
used feature needs are imported when it is first used, not by ``edge run``'s imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys

#: Imported on first use only: openpyxl (and lxml under it, ~175 modules, 7–11 MiB resident)
#: for the XLSX exports, the import template and the import; aiomqtt (and paho) when MQTT
#: telemetry is configured; httpx (which loads click and Pygments where they are installed)
#: with a Hikvision ISAPI barrier, an HTTP snapshot or a replica.
NOT_AT_START = ("openpyxl", "lxml", "aiomqtt", "paho", "httpx")

#: edge-gate's own modules of features a config may not have, imported by the daemon when it
#: has them: a truck scale (or the ERP's plan reports), MQTT telemetry, a replica, the
#: province API, and the camera makes other than the generic push (Hikvision's brings
#: ``xml.etree``); the scale simulator only with ``edge demo`` or ``edge sim scale``; the
#: device drivers below.
OWN_NOT_AT_START = (
    "edge.gate.weighbridge",
    "edge.mqtt",
    "edge.replica",
    "edge.uplink.platform.province",
    "edge.uplink.platform.province_models",
    "edge.uplink.need_complete_poll",
    "edge.ingest.hikvision",
    "edge.ingest.dahua",
    "edge.ingest.vzenith",
    "edge.ingest.milesight",
    "edge.sim.scale",
    "xml.etree",
    # drivers of devices a config may not have, imported when a lane or scale is built with
    # them: LED boards, scale indicators, serial barrier controllers, a Hikvision barrier,
    # a relay board's input as the loop
    "drivers.led_display",
    "drivers.onbon_bx",
    "drivers.olm_led",
    "drivers.panel",
    "drivers.scale",
    "drivers.weighing",
    "drivers.serial_barrier",
    "drivers.hikvision_barrier",
    "drivers.modbus_input",
)


def _printed(code: str) -> str:
    """What ``code`` prints in a fresh interpreter — without coverage's start-up in it (which
    loads xml.dom for its reports)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COV_CORE_", "COVERAGE_"))}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120,
        env=env,
    )  # fmt: skip
    return done.stdout


def _loaded_at_start() -> set[str]:
    """The modules a fresh interpreter holds after ``edge run``'s imports."""
    code = (
        "import json, sys; import edge.cli.main, edge.daemon; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    return set(json.loads(_printed(code)))


def test_the_start_does_not_import_what_only_some_features_use() -> None:
    loaded = _loaded_at_start()
    packages = {name.split(".")[0] for name in loaded}
    assert "edge" in packages
    assert not packages & set(NOT_AT_START)
    own = [
        name
        for name in loaded
        for feature in OWN_NOT_AT_START
        if name == feature or name.startswith(feature + ".")
    ]
    assert not own


def test_models_are_built_when_first_used_not_at_start() -> None:
    """A pydantic model's validator is built on first use (``defer_build``): the config's
    sections a config does not have and the platform's messages of the mode not in use cost
    nothing at start (~1.2 MiB of validators at ``edge run``'s imports, issue 19)."""
    code = (
        "import json; import edge.cli.main, edge.daemon\n"
        "from pydantic import BaseModel\n"
        "def subs(c):\n"
        "    for s in c.__subclasses__():\n"
        "        yield s\n"
        "        yield from subs(s)\n"
        "print(json.dumps(sorted({f'{c.__module__}.{c.__qualname__}' for c in subs(BaseModel)\n"
        "    if c.__dict__.get('__pydantic_complete__') and c.__module__.startswith('edge')})))\n"
    )
    built = set(json.loads(_printed(code)))
    for model in (
        "edge.config.model.ScaleConfig",
        "edge.config.model.ReplicaConfig",
        "edge.config.model.MqttTelemetryConfig",
        "edge.config.model.HikvisionBarrierConfig",
        "edge.uplink.platform.province_models.EnterExitRecord",
        "edge.uplink.platform.registration_models.VehicleRegistration",
        "edge.uplink.platform.city_models.DrivingRecord",
    ):
        assert model not in built
    assert "edge.config.model.Config" in built  # what every start validates
