"""The ``edge`` command: run the daemon, check a config, run the demo or a simulator."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Callable, Coroutine
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import structlog

from edge.cli.filing_args import add_commands
from edge.config.errors import ConfigError, ConfigIssue, env_overrides, format_loc, locate_keys
from edge.config.model import Config, config_warnings, load_config
from edge.ops.logsetup import setup_logging
from edge.sim import DEMO_CAMERAS, DEMO_SCALES, SCALE_PROTOCOLS

EXIT_CONFIG = 2


def _config_option(*parsers: argparse.ArgumentParser) -> None:
    """``--config`` on a command and on each of its actions, so that both ``edge plan --config
    c list`` and ``edge plan list --config c`` work; :func:`main` checks it was given."""
    for parser in parsers:
        parser.add_argument(
            "--config", type=Path, default=argparse.SUPPRESS, help="the config file (required)"
        )
        parser.set_defaults(needs_config=True)


def iso_time(text: str) -> str:
    """An ISO time as typed (site time without an offset); argparse reports anything else
    as an error naming the option, with exit status 2."""
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a time: {text!r} (use YYYY-MM-DD or YYYY-MM-DDTHH:MM, site time)"
        ) from None
    return text


def iso_date(text: str) -> str:
    try:
        date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (use YYYY-MM-DD)") from None
    return text


def _load(path: Path) -> object:
    try:
        return load_config(path)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return None


def cmd_check_config(args: argparse.Namespace) -> int:
    cfg = _load(args.file)
    if cfg is None:
        return EXIT_CONFIG

    assert isinstance(cfg, Config)
    lines = locate_keys(args.file.read_text("utf-8"))
    replica = _replica_check(cfg, args.file)
    if isinstance(replica, ConfigIssue):
        issue = replica.with_line(lines, env_overrides(os.environ))
        print(ConfigError(str(args.file), [issue]).render(), file=sys.stderr)
        return EXIT_CONFIG
    print(f"{args.file}: OK — {len(cfg.lanes)} lane(s), platform mode {cfg.platform.mode}")
    for lane in cfg.lanes:
        print(
            f"  {lane.id}: gate {lane.gate_code} {lane.direction}, camera {lane.camera.kind}, "
            f"barrier {lane.barrier.driver}, LED {lane.led.driver}, "
            f"detector {lane.detector.driver}"
        )
    for key, scale in cfg.scales.items():
        print(
            f"  scale {key} ({scale.name or key}): {scale.protocol} on {scale.port}, "
            f"lanes {', '.join(scale.lanes) or 'none'}, capacity {scale.capacity_kg} kg"
        )
    if replica is not None:
        print(replica)
    for issue in config_warnings(cfg):
        print(f"  warning: {issue.with_line(lines, env_overrides(os.environ))}")
    return 0


def _replica_check(cfg: Config, path: Path) -> str | ConfigIssue | None:
    """``[replica]`` as check-config reports it: the target's line, or what keeps it from
    working that the file alone does not show (an S3 target without keys); None without one."""
    if cfg.replica is None:
        return None
    from edge.replica.target import credentials_problem, describe  # noqa: PLC0415

    problem = credentials_problem(cfg.replica, path, os.environ)
    if problem is not None:
        return ConfigIssue(("replica",), problem)
    return (
        f"  replica: {describe(cfg.replica)} (read at start only: after changing [replica], "
        "e.g. a new share or target, restart the service — systemctl restart edge-gate; a "
        "reload does not apply it)"
    )


def cmd_run(args: argparse.Namespace) -> int:
    from edge.daemon import Daemon, run_until_signalled  # noqa: PLC0415

    cfg = _load(args.config)
    if cfg is None:
        return EXIT_CONFIG
    assert isinstance(cfg, Config)
    setup_logging(cfg.logging.level, cfg.logging.format, zone=cfg.site.zone)
    for issue in config_warnings(cfg):
        structlog.get_logger().warning(
            "config warning", key=format_loc(issue.loc), why=issue.message
        )
    asyncio.run(run_until_signalled(Daemon(cfg), args.config))
    return 0


def _with_config(
    args: argparse.Namespace,
    run: Callable[[Config, argparse.Namespace], Coroutine[Any, Any, int]],
) -> int:
    """Load ``--config`` (errors to stderr, exit 2) and run ``run`` on it."""
    cfg = _load(args.config)
    if cfg is None:
        return EXIT_CONFIG
    assert isinstance(cfg, Config)
    return asyncio.run(run(cfg, args))


def cmd_outbox(args: argparse.Namespace) -> int:
    from edge.cli.outbox import run_outbox  # noqa: PLC0415

    return _with_config(args, run_outbox)


def cmd_plan(args: argparse.Namespace) -> int:
    from edge.cli.plans import run_plan  # noqa: PLC0415

    return _with_config(args, run_plan)


def cmd_set_password(args: argparse.Namespace) -> int:
    import getpass  # noqa: PLC0415

    from edge.web.auth import MIN_PASSWORD, hash_password, write_password_hash  # noqa: PLC0415

    if _load(args.config) is None:
        return EXIT_CONFIG
    try:
        password = getpass.getpass("new password for the status page: ")
        if len(password) < MIN_PASSWORD:
            print(f"use at least {MIN_PASSWORD} characters", file=sys.stderr)
            return EXIT_CONFIG
        again = getpass.getpass("again: ")
    except (EOFError, KeyboardInterrupt):  # Ctrl-D, Ctrl-C, or no terminal (< /dev/null)
        print("\nno password set (none typed)", file=sys.stderr)
        return EXIT_CONFIG
    if again != password:
        print("the two entries differ", file=sys.stderr)
        return EXIT_CONFIG
    write_password_hash(args.config, hash_password(password))
    print(f"password set in {args.config} ([web] password_hash); restart the service")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from edge.cli.lists import run_list  # noqa: PLC0415

    return _with_config(args, run_list)


def cmd_filing(args: argparse.Namespace) -> int:
    from edge.cli.filing import run_filing  # noqa: PLC0415

    return _with_config(args, run_filing)


def cmd_correct(args: argparse.Namespace) -> int:
    from edge.cli.correct import run_correct  # noqa: PLC0415

    return _with_config(args, run_correct)


def cmd_weighings(args: argparse.Namespace) -> int:
    from edge.cli.weighings import run_weighings  # noqa: PLC0415

    return _with_config(args, run_weighings)


def cmd_figures(args: argparse.Namespace) -> int:
    from edge.cli.figures import print_figures  # noqa: PLC0415

    return _with_config(args, print_figures)


def cmd_ledger(args: argparse.Namespace) -> int:
    from edge.cli.ledger import run_ledger  # noqa: PLC0415

    return _with_config(args, run_ledger)


def cmd_restore(args: argparse.Namespace) -> int:
    from edge.cli.restore import run_restore  # noqa: PLC0415

    return _with_config(args, run_restore)


def _positive_seconds(text: str) -> float:
    """A number of seconds, 0 or more (argparse names the option and exits 2 otherwise)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}")
    return value


def _add_weighings(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``edge weighings``: the weighings without a plate (待确认车牌, 未识别车牌)."""
    weighings = sub.add_parser(
        "weighings",
        help="weighings without a plate (待确认车牌), or to check: list, resolve, discard, "
        "drop-read, checked, split, same-truck, higher-weight",
    )
    weighings_sub = weighings.add_subparsers(dest="action", required=True)
    listing = weighings_sub.add_parser("list", help="the weighings without a plate, candidates")
    resolve = weighings_sub.add_parser("resolve", help="give a weighing its plate")
    resolve.add_argument("id", type=int, help="the weighing's number (edge weighings list)")
    plate = resolve.add_mutually_exclusive_group(required=True)
    plate.add_argument("--read", type=int, help="one of its candidate reads (--read N)")
    plate.add_argument("--plate", help="a plate typed instead (with --color)")
    resolve.add_argument("--color", default="1", choices=list("012345"), help="§7.1 (1 yellow)")
    resolve.add_argument(
        "--returned",
        action="store_true",
        help="the truck weighed just before it left the scale and came back while the scale "
        "was not watched (a restart, the indicator silent): its second weighing",
    )
    discard = weighings_sub.add_parser("discard", help="set aside a weighing that is no load")
    discard.add_argument("id", type=int, help="the weighing's number (edge weighings list)")
    discard.add_argument("--reason", required=True, help="why (kept and audited)")
    drop = weighings_sub.add_parser(
        "drop-read", help="drop a stray plate read pending at a scale: no candidate any more"
    )
    drop.add_argument("read", type=int, help="the read's number (edge weighings list)")
    checked = weighings_sub.add_parser(
        "checked", help="clear a weighing's check (请核对车牌 / 请核对重量) once checked"
    )
    checked.add_argument("id", type=int, help="the weighing's number (edge weighings list)")
    split = weighings_sub.add_parser(
        "split", help="split a completed weighing of two trucks (its goods record not sent)"
    )
    split.add_argument("id", type=int, help="the weighing's number (edge weighings list)")
    split.add_argument("--reason", required=True, help="why (kept and audited)")
    same = weighings_sub.add_parser(
        "same-truck",
        help="a weighing without its plate is the truck weighed just before, stopped again "
        "(同一车辆): a higher weight is that truck's, a lower one discarded",
    )
    same.add_argument("id", type=int, help="the weighing's number (edge weighings list)")
    higher = weighings_sub.add_parser(
        "higher-weight",
        help="a completed weighing marked 请核对重量 (its truck stopped twice) takes the higher "
        "stop: net and goods record follow",
    )
    higher.add_argument("id", type=int, help="the weighing's number (edge weighings list)")
    _config_option(weighings, listing, resolve, discard, drop, checked, split, same, higher)
    weighings.set_defaults(func=cmd_weighings)


def _add_gate_records(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The lists, corrections and figures commands."""
    lists = sub.add_parser("list", help="the gate's in-plant, allow and deny lists")
    lists_sub = lists.add_subparsers(dest="action", required=True)
    add = lists_sub.add_parser("add", help="put a plate on a list")
    add.add_argument("--plate", required=True)
    add.add_argument("--kind", choices=["in-plant", "allow", "deny"], required=True)
    add.add_argument("--reason", default="", help="shown on the LED and recorded")
    add.add_argument("--until", type=iso_time, help="expiry, ISO time")
    remove = lists_sub.add_parser("remove", help="take an entry off its list")
    remove.add_argument("id", type=int)
    show = lists_sub.add_parser("show", help="every entry in force")
    _config_option(lists, add, remove, show)
    lists.set_defaults(func=cmd_list)
    add_commands(sub, cmd_filing)
    correct = sub.add_parser("correct", help="correct a misread plate of a recorded pass")
    _config_option(correct)
    correct.add_argument("serial")
    correct.add_argument("--plate", required=True)
    correct.add_argument("--color", default="1", choices=list("012345"), help="§7.1 (1 yellow)")
    correct.add_argument("--reviewer", required=True)
    correct.set_defaults(func=cmd_correct)
    _add_weighings(sub)
    figures = sub.add_parser("figures", help="a day's figures per lane and in total")
    _config_option(figures)
    figures.add_argument("--date", type=iso_date, help="YYYY-MM-DD (default: today)")
    figures.set_defaults(func=cmd_figures)
    ledger = sub.add_parser("ledger", help="the inspector's ledger (电子台账)")
    ledger_sub = ledger.add_subparsers(dest="action", required=True)
    export = ledger_sub.add_parser(
        "export", help="passes of a date range as XLSX, or a ZIP with the images too"
    )
    export.add_argument("--from", dest="first", type=iso_date, help="YYYY-MM-DD (pass ledger)")
    export.add_argument("--to", dest="last", type=iso_date, help="YYYY-MM-DD (pass ledger)")
    export.add_argument(
        "--register", choices=["vehicle", "inner", "machine"],
        help="a register's ledger instead: transport / in-plant vehicles, machinery",
    )  # fmt: skip
    export.add_argument("--gate", default="", help="道闸编号 (default: every gate)")
    export.add_argument(
        "--plate", default="", help="a plate or its start, e.g. 冀A (default: every plate)"
    )
    export.add_argument("--out", required=True, type=Path, help="an .xlsx or .zip file")
    _config_option(ledger, export)
    ledger.set_defaults(func=cmd_ledger)
    restore = sub.add_parser(
        "restore", help="bring the ledger and photos back from the replica onto a new PC"
    )
    _config_option(restore)
    restore.add_argument(
        "--serial-margin-seconds",
        type=_positive_seconds,
        default=600.0,
        help="how far past the clock each lane's serials continue (default 600)",
    )
    restore.add_argument(
        "--at",
        type=iso_time,
        help="restore the ledger as it stood then (site time), when the latest is damaged",
    )
    restore.add_argument(
        "--photos-only",
        action="store_true",
        help="copy the photos back again beside a ledger already restored (after a failure)",
    )
    restore.set_defaults(func=cmd_restore)


def _add_plan(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    plan = sub.add_parser("plan", help="start, schedule, close and list control plans")
    plan_sub = plan.add_subparsers(dest="action", required=True)
    start = plan_sub.add_parser("start", help="start (or schedule) a control plan")
    start.add_argument("--name", required=True)
    start.add_argument("--strategy", type=int, choices=range(1, 8), required=True, help="§7.20")
    start.add_argument("--level", type=int, choices=range(1, 5), default=1, help="§7.18")
    start.add_argument("--area", type=int, choices=(1, 2), default=1, help="§7.19")
    start.add_argument("--start", type=iso_time, help="ISO time (default: now)")
    start.add_argument("--end", type=iso_time, help="expected end, ISO time")
    start.add_argument("--baseline", type=int, default=0, help="heavy entries on a normal day")
    change = plan_sub.add_parser("change", help="change an open plan")
    change.add_argument("id", type=int)
    change.add_argument("--strategy", type=int, choices=range(1, 8))
    change.add_argument("--level", type=int, choices=range(1, 5))
    change.add_argument("--area", type=int, choices=(1, 2))
    change.add_argument("--end", type=iso_time, help="expected end, ISO time")
    change.add_argument("--baseline", type=int)
    close = plan_sub.add_parser("close", help="close a plan")
    close.add_argument("id", type=int)
    listing = plan_sub.add_parser("list", help="the plans of the config and of the gate")
    _config_option(plan, start, change, close, listing)
    plan.set_defaults(func=cmd_plan)


def cmd_drivers_test(args: argparse.Namespace) -> int:
    from edge.cli.drivers import run_drivers_test  # noqa: PLC0415

    cfg = _load(args.config)
    if cfg is None:
        return EXIT_CONFIG
    assert isinstance(cfg, Config)
    if args.lane not in {lane.id for lane in cfg.lanes}:
        known = ", ".join(lane.id for lane in cfg.lanes)
        print(f"--lane: no lane {args.lane!r} in {args.config} (lanes: {known})", file=sys.stderr)
        return EXIT_CONFIG
    setup_logging("warning", "console", zone=cfg.site.zone)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(run_drivers_test(cfg, args))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from edge.sim.demo import run_demo  # noqa: PLC0415
    from edge.sim.mqtt_broker import BrokerMissingError  # noqa: PLC0415

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(
                run_demo(
                    args.trucks,
                    args.interval,
                    args.camera,
                    args.seed,
                    args.platform,
                    scale=DEMO_SCALES[args.scale] if args.scale else None,
                )
            )
    except BrokerMissingError as exc:
        print(f"the MQTT demo needs a broker: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return 0


def cmd_sim_platform(args: argparse.Namespace) -> int:
    from edge.sim.platform import CityPlatformSim, PlatformSim, load_vehicles  # noqa: PLC0415
    from edge.sim.province import ProvincePlatformSim  # noqa: PLC0415

    setup_logging("info", "console")
    sim: PlatformSim = (
        ProvincePlatformSim(username=args.username, password=args.password)
        if args.mode == "province"
        else CityPlatformSim(organ=args.organ, username=args.username, password=args.password)
    )
    if args.vehicles is not None:
        sim.vehicles = load_vehicles(args.vehicles)
    sim.delay = args.delay

    async def serve() -> None:
        await sim.start(args.host, args.port)
        print(f"simulated {args.mode} platform at {sim.base_url} (stats: /sim/stats)", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await sim.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())
    return 0


def cmd_sim_relay_board(args: argparse.Namespace) -> int:
    from edge.sim.devices_sim import serve_relay_board  # noqa: PLC0415

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_relay_board(args.port, args.rtu, args.device_id))
    return 0


def cmd_sim_led_board(args: argparse.Namespace) -> int:
    from edge.sim.devices_sim import serve_led_board  # noqa: PLC0415

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_led_board(args.protocol, args.serial, args.tcp))
    return 0


def cmd_sim_scale(args: argparse.Namespace) -> int:
    from edge.sim.scale import serve_scale  # noqa: PLC0415

    setup_logging("info", "console")
    with contextlib.suppress(KeyboardInterrupt):
        scale = serve_scale(args.serial, args.protocol, args.kg, args.tare_kg, trucks=args.trucks)
        asyncio.run(scale)
    return 0


def _add_drivers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    drivers = sub.add_parser("drivers", help="check a lane's barrier, LED and detector wiring")
    drivers_sub = drivers.add_subparsers(dest="what", required=True)
    test = drivers_sub.add_parser("test", help="send one command to a lane's device")
    _config_option(test)
    test.add_argument("--lane", required=True)
    test_sub = test.add_subparsers(dest="action", required=True)
    test_sub.add_parser("barrier-open", help="pulse the barrier's OPEN contact")
    test_sub.add_parser("barrier-state", help="read the arm's limit switch")
    led = test_sub.add_parser("led", help="show text on the LED ('|' separates lines)")
    led.add_argument("text")
    watch = test_sub.add_parser("watch-detector", help="print the loop detector's changes")
    watch.add_argument("--seconds", type=_positive_seconds, default=60.0)
    scale = test_sub.add_parser("watch-scale", help="print the live weight of the lane's scale")
    scale.add_argument("--seconds", type=_positive_seconds, default=60.0)
    test.set_defaults(func=cmd_drivers_test)


def _add_sim(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = sub.add_parser("sim", help="run a simulator on its own")
    sim_sub = sim.add_subparsers(dest="simulator", required=True)
    platform = sim_sub.add_parser("platform", help="a simulated city or province platform")
    platform.add_argument("--mode", choices=["city", "province"], default="city")
    platform.add_argument("--vehicles", type=Path, help="vehicle table (.csv or .toml)")
    platform.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    platform.add_argument("--host", default="127.0.0.1")
    platform.add_argument("--port", type=int, default=8080)
    platform.add_argument("--organ", default="4110020001")
    platform.add_argument("--username", default="gate01")
    platform.add_argument("--password", default="sim-password")
    platform.set_defaults(func=cmd_sim_platform)
    relay = sim_sub.add_parser("relay-board", help="a Modbus relay board with a barrier and loop")
    relay.add_argument("--port", type=int, default=1502, help="Modbus TCP port on 127.0.0.1")
    relay.add_argument(
        "--rtu", type=Path, help="serve Modbus RTU on a virtual serial port at this path instead"
    )
    relay.add_argument("--device-id", type=int, default=1)
    relay.set_defaults(func=cmd_sim_relay_board)
    led = sim_sub.add_parser("led-board", help="an LED board that prints what it would show")
    led.add_argument("--protocol", choices=["olm", "onbon", "text"], default="olm")
    where = led.add_mutually_exclusive_group(required=True)
    where.add_argument("--serial", type=Path, help="a virtual serial port at this path")
    where.add_argument("--tcp", type=int, help="listen on this TCP port of 127.0.0.1")
    led.set_defaults(func=cmd_sim_led_board)
    scale = sim_sub.add_parser("scale", help="a truck scale indicator with trucks on it")
    scale.add_argument("--serial", type=Path, required=True, help="virtual serial port path")
    scale.add_argument("--protocol", choices=SCALE_PROTOCOLS, default="yaohua-tf0")
    scale.add_argument("--kg", type=Decimal, default=Decimal(35680), help="the loaded truck")
    scale.add_argument("--tare-kg", type=Decimal, default=Decimal(15200), help="the empty truck")
    scale.add_argument("--trucks", type=int, default=0, help="weighings to drive (0: forever)")
    scale.set_defaults(func=cmd_sim_scale)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edge", description="edge-gate gate controller")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the daemon")
    _config_option(run)
    run.set_defaults(func=cmd_run)

    check = sub.add_parser("check-config", help="validate a config file and exit")
    check.add_argument("file", type=Path)
    check.set_defaults(func=cmd_check_config)

    outbox = sub.add_parser("outbox", help="what waits to be forwarded; send dead letters again")
    outbox_sub = outbox.add_subparsers(dest="action", required=True)
    listing = outbox_sub.add_parser("list", help="counts, and entries (dead letters by default)")
    listing.add_argument(
        "--state", choices=["dead", "pending", "held", "sent", "all"], default="dead"
    )
    listing.add_argument("--limit", type=int, default=50)
    show = outbox_sub.add_parser("show", help="one pass and its outbox entries")
    show.add_argument("serial")
    retry = outbox_sub.add_parser("retry", help="send dead letters again (all, or the ids)")
    retry.add_argument("ids", type=int, nargs="*")
    _config_option(outbox, listing, show, retry)
    outbox.set_defaults(func=cmd_outbox)

    _add_drivers(sub)
    _add_plan(sub)
    _add_gate_records(sub)
    setpw = sub.add_parser("set-password", help="set the status page's password (hashed)")
    _config_option(setpw)
    setpw.set_defaults(func=cmd_set_password)

    demo = sub.add_parser("demo", help="run the daemon against the built-in simulators")
    demo.add_argument("--trucks", type=int, default=None, help="stop after N trucks")
    demo.add_argument("--interval", type=float, default=1.5, help="seconds between trucks")
    demo.add_argument(
        "--camera",
        choices=DEMO_CAMERAS,
        default="vzenith",
        help="the entrance camera's push format",
    )
    demo.add_argument("--platform", choices=["city", "province"], default="city")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument(
        "--scale",
        nargs="?",
        const="toledo",
        choices=list(DEMO_SCALES),
        help="a truck scale (simulated on a pty, its indicator speaking this protocol; "
        "default toledo) weighs trucks in and out: goods records",
    )
    demo.set_defaults(func=cmd_demo)

    _add_sim(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "needs_config", False) and getattr(args, "config", None) is None:
        names = (args.command, getattr(args, "what", None), getattr(args, "action", None))
        words = " ".join(name for name in names if name)
        parser.exit(EXIT_CONFIG, f"edge {words}: error: the following arguments are required: "
                    "--config\n")  # fmt: skip
    # One-off commands: library warnings (and ours) to stderr, readable; `edge run`, the demo
    # and the simulators set up their own log.
    setup_logging("warning", "console", stream=sys.stderr)
    try:
        code: int = args.func(args)
        sys.stdout.flush()
    except BrokenPipeError:
        return _pipe_closed()
    return code


#: The exit code of a command whose reader went away (``edge vehicles show | head -1``): what
#: a shell reports for a process ended by SIGPIPE (128 + 13).
EXIT_PIPE_CLOSED = 141


def _pipe_closed() -> int:
    """The reader of stdout closed the pipe: end quietly (no traceback, nor a second error
    when Python flushes stdout at exit: it writes to /dev/null from now on)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_PIPE_CLOSED


if __name__ == "__main__":
    sys.exit(main())
