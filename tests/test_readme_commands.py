"""A technician's first hour: every command line the README shows, run as written (its
placeholders filled in) against a temporary config, without a traceback; every command-line
error names the option, key or variable at fault and exits 2; and the example config, run
unchanged, talks to nothing but this machine."""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import re
import signal
import sys
import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from edge.cli.main import main
from edge.sim.camera import CameraSim
from edge.sim.jpeg import sample_jpeg
from edge.sim.platform import CityPlatformSim
from edge.sim.province import ProvincePlatformSim
from tests.helpers import eventually, free_port, write_config
from tests.processes import Processes

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
EXAMPLE = ROOT / "config.example.toml"
FUTURE = (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")


def readme_command_lines() -> list[str]:
    """The ``edge …`` lines of the README's shell blocks, continuation lines joined,
    comments dropped, spaces collapsed."""
    lines: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", README.read_text("utf-8"), re.S):
        for raw in block.splitlines():
            code = re.sub(r"\s+#.*$", "", raw).strip()
            if not code:
                continue
            if raw[0].isspace() and lines:
                lines[-1] += " " + code
            elif code.startswith("edge "):
                lines.append(" ".join(code.split()))
    return lines


@dataclass(frozen=True)
class Step:
    """One concrete command for a README line. ``service`` steps run as a process until
    their first line of output (or the daemon's ready line) and are then stopped."""

    argv: tuple[str, ...]
    code: int = 0
    service: bool = False


def once(*argv: str, code: int = 0) -> Step:
    return Step(argv, code)


def service(*argv: str) -> Step:
    return Step(argv, 0, service=True)


C = "{config}"
LEDGER_NOVEMBER = ("ledger", "export", "--config", C, "--from", "2026-11-01", "--to", "2026-11-30")
WATCH = Step(
    ("drivers", "test", "--config", C, "--lane", "in-1", "watch-detector", "--seconds", "0.1")
)
#: README line → what is run for it, in this order (later steps use what earlier ones made).
WALK: list[tuple[str, list[Step]]] = [
    ("edge check-config /etc/edge-gate/config.toml", [once("check-config", C)]),
    ("edge run --config /etc/edge-gate/config.toml", [service("run", "--config", C)]),
    (
        "edge demo [--camera vzenith|hikvision|dahua|milesight|generic|onvif|dahua-pull|"
        "serial|mqtt] [--platform city|province] [--trucks N] [--interval S] "
        "[--scale [toledo|yaohua|yaohua-equals|yaohua-a12|command]]",
        [
            service(
                "demo",
                "--camera",
                "generic",
                "--platform",
                "province",
                "--trucks",
                "2",
                "--interval",
                "0.05",
                "--scale",
                "yaohua",
            )
        ],
    ),
    (
        "edge sim platform --mode city|province --port 8080 [--vehicles table.csv]",
        [
            service(
                "sim", "platform", "--mode", "province", "--port", "{port}", "--vehicles", "{table}"
            )
        ],
    ),
    (
        "edge sim relay-board | led-board …",
        [
            service("sim", "relay-board", "--port", "{port}"),
            service("sim", "led-board", "--protocol", "olm", "--tcp", "{port}"),
        ],
    ),
    (
        "edge drivers test --config … --lane ID barrier-open | led TEXT | watch-detector",
        [
            once("drivers", "test", "--config", C, "--lane", "in-1", "barrier-open"),
            once("drivers", "test", "--config", C, "--lane", "in-1", "led", "测试"),
            WATCH,
        ],
    ),
    (
        "edge plan start|change|close|list --config …",
        [
            once(
                "plan",
                "start",
                "--config",
                C,
                "--name",
                "红色预警",
                "--strategy",
                "7",
                "--end",
                FUTURE,
            ),
            once("plan", "change", "--config", C, "1", "--strategy", "5"),
            once("plan", "list", "--config", C),
            once("plan", "close", "--config", C, "1"),
        ],
    ),
    (
        "edge list add|remove|show --config …",
        [
            once(
                "list",
                "add",
                "--config",
                C,
                "--plate",
                "豫A12345",
                "--kind",
                "deny",
                "--reason",
                "欠费停运",
                "--until",
                FUTURE,
            ),
            once("list", "show", "--config", C),
            once("list", "remove", "--config", C, "1"),
        ],
    ),
    (
        "edge correct --config … SERIAL --plate P --reviewer NAME",
        [once("correct", "--config", C, "{serial}", "--plate", "豫A12345", "--reviewer", "王工")],
    ),
    (
        "edge weighings list|resolve|discard|drop-read|checked|split|same-truck|higher-weight "
        "--config …",
        [once("weighings", "list", "--config", C)],
    ),
    (
        "edge figures --config … [--date YYYY-MM-DD]",
        [once("figures", "--config", C), once("figures", "--config", C, "--date", "2026-11-21")],
    ),
    (
        "edge ledger export --config … --from YYYY-MM-DD --to YYYY-MM-DD [--gate 01] [--plate P] "
        "--out ledger.xlsx|ledger.zip",
        [
            once(*LEDGER_NOVEMBER, "--out", "{tmp}/ledger.xlsx"),
            once(*LEDGER_NOVEMBER, "--gate", "01", "--plate", "豫A12345", "--out", "{tmp}/x.zip"),
        ],
    ),
    (
        "edge ledger export --config … --register vehicle|inner|machine --out F.xlsx|F.zip",
        [
            once("ledger", "export", "--config", C, "--register", "inner", "--out", "{tmp}/i.xlsx"),
            once(
                "ledger", "export", "--config", C, "--register", "machine", "--out", "{tmp}/m.zip"
            ),
        ],
    ),
    # 1: the walk's config has no [replica] to restore from (tests/test_replica.py restores)
    ("edge restore --config …", [once("restore", "--config", C, code=1)]),
    ("edge set-password --config …", [once("set-password", "--config", C)]),
    (
        "edge sim platform --mode province --port 8080 --vehicles table.csv",
        [
            service(
                "sim", "platform", "--mode", "province", "--port", "{port}", "--vehicles", "{table}"
            )
        ],
    ),
    (
        "edge drivers test --config /etc/edge-gate/config.toml --lane in-1 barrier-open",
        [once("drivers", "test", "--config", C, "--lane", "in-1", "barrier-open")],
    ),
    (
        'edge drivers test --config … --lane in-1 led "测试|第二行"',
        [once("drivers", "test", "--config", C, "--lane", "in-1", "led", "测试|第二行")],
    ),
    (
        "edge drivers test --config … --lane in-1 watch-detector --seconds 60",
        [WATCH],
    ),
    (
        "edge drivers test --config … --lane in-1 barrier-state",
        # 2 = untestable: a virtual barrier has no limit switch to read
        [once("drivers", "test", "--config", C, "--lane", "in-1", "barrier-state", code=2)],
    ),
    (
        "edge drivers test --config … --lane in-1 watch-scale --seconds 60",
        # 2 = untestable: this config has no scale
        [
            once(
                "drivers",
                "test",
                "--config",
                C,
                "--lane",
                "in-1",
                "watch-scale",
                "--seconds",
                "0.1",
                code=2,
            )
        ],
    ),
    (
        "edge sim scale --serial /tmp/ttySCALE --protocol toledo",
        [service("sim", "scale", "--serial", "{tmp}/ttySCALE", "--protocol", "toledo")],
    ),
    # the walk's config has no scale and its ledger no weighing 17 or 18: 1 (not found);
    # tests/test_weighings_cli.py runs these lines as written on held weighings
    (
        "edge weighings list --config /etc/edge-gate/config.toml",
        [once("weighings", "list", "--config", C)],
    ),
    (
        "edge weighings resolve --config … 17 --read 42",
        [once("weighings", "resolve", "--config", C, "17", "--read", "42", code=1)],
    ),
    (
        "edge weighings resolve --config … 17 --plate 豫A12345 --color 1",
        [
            once(
                "weighings",
                "resolve",
                "--config",
                C,
                "17",
                "--plate",
                "豫A12345",
                "--color",
                "1",
                code=1,
            )
        ],
    ),
    (
        'edge weighings discard --config … 18 --reason "试秤，无车辆"',
        [once("weighings", "discard", "--config", C, "18", "--reason", "试秤，无车辆", code=1)],
    ),
    (
        "edge weighings drop-read --config … 43",
        [once("weighings", "drop-read", "--config", C, "43", code=1)],
    ),
    (
        "edge weighings checked --config … 7",
        [once("weighings", "checked", "--config", C, "7", code=1)],
    ),
    (
        'edge weighings split --config … 34 --reason "两车误配"',
        [once("weighings", "split", "--config", C, "34", "--reason", "两车误配", code=1)],
    ),
    (
        "edge weighings same-truck --config … 19",
        [once("weighings", "same-truck", "--config", C, "19", code=1)],
    ),
    (
        "edge weighings resolve --config … 19 --plate 豫A12345 --color 1 --returned",
        [
            once(
                "weighings",
                "resolve",
                "--config",
                C,
                "19",
                "--plate",
                "豫A12345",
                "--color",
                "1",
                "--returned",
                code=1,
            )
        ],
    ),
    (
        "edge weighings higher-weight --config … 7",
        [once("weighings", "higher-weight", "--config", C, "7", code=1)],
    ),
    (
        "edge vehicles template --output vehicles.xlsx --config /etc/edge-gate/config.toml",
        [once("vehicles", "template", "--output", "{tmp}/vehicles.xlsx", "--config", C)],
    ),
    (
        "edge vehicles import vehicles.xlsx --config /etc/edge-gate/config.toml",
        [once("vehicles", "import", "{tmp}/vehicles.xlsx", "--config", C)],
    ),
    (
        "edge vehicles add --plate 豫A12345 --plate-color 1 --vin LZZ1CLVB0KA123456 --engine-no "
        "WP10 --register-date 2019-05-01 --emission 6 --driving-license licence.jpg --config …",
        [
            once(
                "vehicles",
                "add",
                "--plate",
                "豫A12345",
                "--plate-color",
                "1",
                "--vin",
                "LZZ1CLVB0KA123456",
                "--engine-no",
                "WP10",
                "--register-date",
                "2019-05-01",
                "--emission",
                "6",
                "--driving-license",
                "{tmp}/licence.jpg",
                "--config",
                C,
            )
        ],
    ),
    (
        "edge vehicles edit 1 --fleet 二车队 --owner 郑州某物流有限公司 --config …",
        [
            once(
                "vehicles",
                "edit",
                "1",
                "--fleet",
                "二车队",
                "--owner",
                "郑州某物流有限公司",
                "--config",
                C,
            )
        ],
    ),
    (
        "edge vehicles attach 1 --emission-list emission-list.jpg --config …",
        [
            once(
                "vehicles",
                "attach",
                "1",
                "--emission-list",
                "{tmp}/emission-list.jpg",
                "--config",
                C,
            )
        ],
    ),
    (
        "edge vehicles status 1 封存 --config …",
        [once("vehicles", "status", "1", "封存", "--config", C)],
    ),
    (
        "edge vehicles show --search 豫A1 --config …",
        [once("vehicles", "show", "--search", "豫A1", "--config", C)],
    ),
    (
        "edge vehicles export --output ledger.xlsx --config …",
        [once("vehicles", "export", "--output", "{tmp}/ledger.xlsx", "--config", C)],
    ),
    # 1 = nothing to retry: no filing was refused
    ("edge machinery retry --config …", [once("machinery", "retry", "--config", C, code=1)]),
]


def test_the_walk_covers_every_readme_command_line() -> None:
    assert readme_command_lines() == [line for line, _ in WALK]


def _config(tmp_path: Path, base_url: str, port: int) -> Path:
    path = write_config(tmp_path / "config.toml", base_url, port=port, state=f"{tmp_path}/")
    text = path.read_text("utf-8").replace(
        'barrier = { driver = "virtual" }',
        'barrier = { driver = "virtual" }\nled = { driver = "virtual" }\n'
        'detector = { driver = "virtual" }',
    )
    path.write_text(text, "utf-8")
    return path


async def test_every_readme_command_runs_as_written(
    tmp_path: Path,
    platform_sim: CityPlatformSim,
    procs: Processes,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    web_port = free_port()
    values = {
        "config": str(_config(tmp_path, platform_sim.base_url, web_port)),
        "table": str(tmp_path / "table.csv"),
        "serial": "",
        "tmp": str(tmp_path),
    }
    (tmp_path / "table.csv").write_text(
        "plate,is_control,need_complete,plate_color,added\n豫A12345,1,2,1,2026-11-30 08:00:00\n",
        "utf-8",
    )
    (tmp_path / "licence.jpg").write_bytes(sample_jpeg("行驶证"))
    (tmp_path / "emission-list.jpg").write_bytes(sample_jpeg("随车清单"))
    monkeypatch.setattr(getpass, "getpass", lambda _prompt="": "a-long-enough-password")
    env = {**os.environ, "EDGE_PLATFORM__PASSWORD": platform_sim.password}
    for line, steps in WALK:
        for step in steps:
            values["port"] = str(free_port())
            argv = [part.format(**values) for part in step.argv]
            if step.service:
                await _run_service(procs, argv, env, web_port, values)
                continue
            try:
                code = await asyncio.to_thread(main, argv)  # its own event loop, as a process
            except SystemExit as exc:  # argparse
                code = int(exc.code or 0)
            out, err = capsys.readouterr()
            assert code == step.code, (line, argv, out, err)
            assert "Traceback" not in out + err, (line, argv)


async def _run_service(
    procs: Processes, argv: list[str], env: dict[str, str], web_port: int, values: dict[str, str]
) -> None:
    proc = await procs.edge(
        *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    if argv[0] == "demo":
        out, err = await asyncio.wait_for(proc.communicate(), 120)
        assert proc.returncode == 0, (argv, out.decode(), err.decode())
        assert b"Traceback" not in out + err
        return
    first = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    if argv[0] == "run":
        while json.loads(first)["event"] != "daemon ready":
            first = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        camera = CameraSim(f"http://127.0.0.1:{web_port}/push/in-1", "generic")
        try:
            values["serial"] = str((await camera.push("豫A12845")).body["serial"])
        finally:
            await camera.aclose()
    stop = signal.SIGTERM if argv[0] == "run" else signal.SIGINT
    assert await procs.stop(proc, stop, timeout=30) == 0, argv
    assert proc.stderr is not None
    rest = (await proc.stdout.read()) + (await proc.stderr.read())
    assert b"Traceback" not in first.encode() + rest, argv


#: Bad command lines → the option, key or variable the error must name (exit status 2).
BAD: list[tuple[list[str], dict[str, str], str]] = [
    (["plan", "list"], {}, "--config"),
    (["list", "show"], {}, "--config"),
    (["outbox", "list"], {}, "--config"),
    (["weighings", "list"], {}, "--config"),
    (["weighings", "resolve", "--config", C, "1"], {}, "--read"),
    (["weighings", "resolve", "--config", C, "x", "--read", "1"], {}, "id"),
    (["weighings", "discard", "--config", C, "1"], {}, "--reason"),
    (["vehicles", "show"], {}, "--config"),
    (["machinery", "add", "--config", C, "--plate", "豫A0001Z", "--emission", "9"], {},
     "--emission"),
    (["list", "add", "--config", C, "--plate", "豫A12345", "--kind", "deny", "--until",
      "tomorrow"], {}, "--until"),
    (["list", "add", "--config", C, "--plate", "豫A12345", "--kind", "deny", "--until",
      "2020-01-01"], {}, "--until"),
    (["list", "add", "--config", C, "--plate", "无牌", "--kind", "allow"], {}, "--plate"),
    (["list", "add", "--config", C, "--plate", "豫A12345", "--kind", "black"], {}, "--kind"),
    (["plan", "start", "--config", C, "--name", "x", "--strategy", "7", "--end", "yesterday"],
     {}, "--end"),
    (["plan", "start", "--config", C, "--name", "x", "--strategy", "7", "--end",
      "2020-01-01"], {}, "--end"),
    (["plan", "start", "--config", C, "--name", "x", "--strategy", "9"], {}, "--strategy"),
    (["figures", "--config", C, "--date", "2026-13-01"], {}, "--date"),
    (["restore", "--config", C, "--at", "yesterday"], {}, "--at"),
    (["restore", "--config", C, "--at", "2999-01-01 08:00"], {}, "--at"),
    (["outbox", "list", "--config", C, "--state", "lost"], {}, "--state"),
    (["drivers", "test", "--config", C, "--lane", "nope", "barrier-open"], {}, "--lane"),
    (["check-config", C], {"EDGE_PLATFORM__VERIFY_DEADLINE_SECONDS": "abc"},
     "EDGE_PLATFORM__VERIFY_DEADLINE_SECONDS"),
    (["check-config", C], {"EDGE_PLATFORM__PASWORD": "x"}, "EDGE_PLATFORM__PASWORD"),
    (["run", "--config", C], {"EDGE_PLATFROM__PASSWORD": "x"}, "EDGE_PLATFROM__PASSWORD"),
    (["figures", "--config", C], {"EDGE_SITE__ENTERPRISE_CODE": "41"},
     "EDGE_SITE__ENTERPRISE_CODE"),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "environ", "named"), BAD)
def test_every_cli_error_names_what_is_wrong_and_exits_2(
    argv: list[str],
    environ: dict[str, str],
    named: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = str(write_config(tmp_path / "config.toml", "http://127.0.0.1:9", state="s/"))
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    try:
        code = main([part.replace(C, config) for part in argv])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert named in err, err
    assert "Traceback" not in out + err
    assert not (tmp_path / "s").exists()  # a refused command leaves no ledger behind


#: Records every connection the process attempts and every name it resolves.
_AUDIT = """
import json, sys
log = open(sys.argv[1], "a", buffering=1)
def hook(event, args):
    if event == "socket.connect":
        log.write(json.dumps(["connect", repr(args[1])]) + "\\n")
    elif event == "socket.getaddrinfo":
        log.write(json.dumps(["resolve", str(args[0])]) + "\\n")
sys.addaudithook(hook)
from edge.cli.main import main
sys.exit(main(sys.argv[2:]))
"""


def _loopback(address: str) -> bool:
    """``repr`` of a socket address: ('127.x.y.z', port), a Unix path, or ::1."""
    return bool(re.match(r"\('(127\.\d+\.\d+\.\d+|::1|localhost)'", address)) or (
        address.startswith(("'/", "b'"))
    )


async def test_the_example_config_talks_only_to_this_machine(
    tmp_path: Path, procs: Processes
) -> None:
    """``edge run --config config.example.toml`` unchanged: platform, relay board and LED panel
    are the simulators' addresses on 127.0.0.1 (the real ones are there to uncomment)."""
    audit = tmp_path / "connections.jsonl"
    port = free_port()
    env = {
        **os.environ,
        "EDGE_STORAGE__DATABASE": str(tmp_path / "edge.db"),  # /var/lib/… needs the service
        "EDGE_STORAGE__PHOTO_DIR": str(tmp_path / "photos"),
        "EDGE_WEB__PORT": str(port),  # 8088 may be taken on a shared machine
    }
    proc = await procs.start(
        sys.executable, "-c", _AUDIT, str(audit), "run", "--config", str(EXAMPLE),
        env=env, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    lines: list[dict[str, object]] = []
    async with asyncio.timeout(60):
        while not any(line["event"] == "daemon ready" for line in lines):
            lines.append(json.loads(await proc.stdout.readline()))
    camera = CameraSim(f"http://127.0.0.1:{port}/push/in-1", "vzenith")
    try:  # a vehicle makes the daemon ask the platform
        await camera.push("豫A12345")
    finally:
        await camera.aclose()

    def attempted() -> list[list[str]]:
        return [json.loads(line) for line in audit.read_text("utf-8").splitlines()]

    await eventually(  # the board, the panel and the platform were each tried
        lambda: all(
            any(f"'127.0.0.1', {p})" in address for _, address in attempted())
            for p in (8080, 1502, 5005)
        ),
        timeout=30,
    )
    assert await procs.stop(proc, signal.SIGTERM) == 0
    outside = [
        (kind, address)
        for kind, address in attempted()
        if (kind == "connect" and not _loopback(address))
        or (kind == "resolve" and address not in {"127.0.0.1", "localhost", "::1", "None"})
    ]
    assert outside == []
    assert any(line.get("event") == "config warning" for line in lines)  # the placeholder


def test_the_readme_says_the_province_simulators_url_and_accounts_exactly() -> None:
    """The README's province config for the simulator names what ``edge sim platform
    --mode province --port 8080`` serves: its URL (with its ``/province`` path) and its
    accounts — so the example works as written."""
    blocks = re.findall(r"```toml\n(.*?)```", README.read_text("utf-8"), re.S)
    (block,) = [b for b in blocks if "127.0.0.1:8080/province" in b]
    platform = tomllib.loads(block)["platform"]
    sim = ProvincePlatformSim(port=8080)
    assert platform["base_url"] == sim.base_url
    assert (platform["mode"], platform["username"], platform["password"]) == (
        "province", sim.username, sim.password,
    )  # fmt: skip
    assert (platform["org_secret_code"], platform["company_secret_code"]) == (
        sim.org_secret_code, sim.company_secret_code,
    )  # fmt: skip
    assert f"simulated province platform at {sim.base_url}" in README.read_text("utf-8")
    assert f'"{sim.base_url}"' in EXAMPLE.read_text("utf-8")
