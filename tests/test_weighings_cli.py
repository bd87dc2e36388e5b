"""Weighings without a plate from the command line (issue 16): ``edge weighings list``,
``resolve`` (a candidate read, or a typed plate) and ``discard`` (with a reason), run exactly
as the README writes them, through the operator actions (the login running the command,
audited once each); their refusals name the option. Migration 18 keeps every weighing."""

from __future__ import annotations

import asyncio
import getpass
import re
import shlex
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest

from edge.cli.main import main
from edge.ledger import database
from edge.ledger.rows import NewScaleRead, NewWeighing, ScaleRead
from edge.ledger.schema import MIGRATIONS
from edge.ledger.store import Store
from tests.helpers import write_config
from tests.test_readme_commands import readme_command_lines
from tests.test_store import new_pass

SCALE = (
    '[scales.main]\nport = "{port}"\nprotocol = "toledo"\nlanes = ["in-1"]\nname = "1号地磅"\n'
    '[weighing]\ndefault_goods = "石灰石"\n'
)
DAY = 86400.0


def scale_config(tmp_path: Path) -> Path:
    """A config in ``tmp_path`` with the scale ``main`` (:data:`SCALE`, its port a path
    there, never opened) and no platform answering."""
    return write_config(
        tmp_path / "config.toml", "http://127.0.0.1:9", state=f"{tmp_path}/",
        extra=SCALE.format(port=tmp_path / "tty"),
    )  # fmt: skip


async def _held_weighings(path: Path) -> dict[str, int]:
    """A ledger where 豫A11111 weighed in loaded (35 t, open), then two weighings were held
    (two plates read at the scale each time: the truck leaving and a car, twice) and one was
    taken with no plate read at all (800 kg: a person on the platform). The ids: ``held``,
    ``other`` (the second held one), ``nobody``, ``first`` (the open first weighing) and
    ``read`` (the truck's candidate read of ``held``)."""
    store = await Store.open(path)
    try:
        now = time.time()
        entry = await store.record_pass(new_pass("豫A11111"), [])
        first = await store.weigh(
            NewWeighing("main", "豫A11111", "2", 35_000, now - 600, entry.serial),
            max_between_seconds=DAY,
        )
        reads: list[ScaleRead] = []
        for plate in ("豫A11111", "豫C33333"):
            seen = await store.record_pass(new_pass(plate, direction="out"), [])
            reads.append(
                await store.note_scale_read(
                    NewScaleRead("main", plate, "2", seen.serial, "in-1", now - 120)
                )
            )
        held = await store.weigh(
            NewWeighing("main", None, "", 15_000, now - 60, None),
            max_between_seconds=DAY,
            candidates=reads,
        )
        other = await store.weigh(
            NewWeighing("main", None, "", 12_000, now - 50, None),
            max_between_seconds=DAY,
            candidates=reads,
        )
        nobody = await store.weigh(
            NewWeighing("main", None, "", 800, now - 40, None), max_between_seconds=DAY
        )
        assert (held.held, other.held, nobody.held) == (True, True, False)
        # the truck stopped twice on the scale after its first weighing: 请核对重量
        assert await store.check_weight(first, 35_000, 35_600) is not None
        return {
            "held": held.id, "other": other.id, "nobody": nobody.id, "first": first.id,
            "read": reads[0].id, "car": reads[1].id,
        }  # fmt: skip
    finally:
        await store.close()


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_the_readme_lines_resolve_and_discard_held_weighings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = scale_config(tmp_path)
    ids = asyncio.run(_held_weighings(tmp_path / "edge.db"))
    lines = [line for line in readme_command_lines() if line.startswith("edge weighings ")]
    listing, by_read, by_plate, discard, drop, checked = lines[1:7]  # after the summary line
    numbers = [  # README number → this ledger's, per line
        {},
        {"17": ids["held"], "42": ids["read"]},
        {"17": ids["other"]},
        {"18": ids["nobody"]},
        {"43": ids["car"]},
        {"7": ids["first"]},
    ]
    argvs = []
    every = (listing, by_read, by_plate, discard, drop, checked)
    for line, mapping in zip(every, numbers, strict=True):
        words = shlex.split(line)[1:]  # without "edge"
        argvs.append([
            str(config) if w in ("…", "/etc/edge-gate/config.toml") else str(mapping.get(w, w))
            for w in words
        ])  # fmt: skip

    code, out, _ = _run(argvs[0], capsys)
    assert code == 0
    assert f"{ids['held']:>7} " in out
    assert "1号地磅 15000 kg 待确认车牌" in out
    assert f"--read {ids['read']}: 豫A11111" in out
    assert "800 kg 未识别车牌" in out
    assert "weighings to check: 1\n" in out
    assert f"{ids['first']:>7} " in out
    # the pass whose plate a clerk corrects when the weighing's plate is the wrong one
    assert re.search(r", pass \S+ \(a wrong plate: edge correct … SERIAL\)\n", out), out
    assert "check weight (its goods record will wait): truck stopped twice: weighed 35000 kg" in out

    code, out, err = _run(argvs[1], capsys)  # the truck's read completes its first weighing
    assert code == 0, err
    assert f"now complete as weighing {ids['first']}" in out
    code, out, err = _run(argvs[2], capsys)  # a typed plate opens that plate's first weighing
    assert code == 0, err
    assert "豫A12345 (typed), now open" in out
    code, out, err = _run(argvs[3], capsys)
    assert code == 0, err
    assert f"weighing {ids['nobody']} (800 kg) discarded: 试秤，无车辆" in out
    _drop_the_cars_read(argvs[0], argvs[4], ids["car"], capsys)
    _clear_the_check(argvs[5], ids["first"], capsys)

    async def after() -> None:
        store = await Store.open(tmp_path / "edge.db")
        try:
            done = await store.weighing(ids["first"])
            assert (done.state, done.net_kg, done.goods, done.ysl) == (
                "complete", 20_000, "石灰石", "20",
            )  # fmt: skip
            typed = await store.weighing(ids["other"])
            assert (typed.state, typed.plate, typed.plate_color) == ("open", "豫A12345", "1")
            gone = await store.weighing(ids["nobody"])
            assert (gone.state, gone.discarded) == (
                "discarded", f"{getpass.getuser()}: 试秤，无车辆",
            )  # fmt: skip
            goods = [e for e in await store.list_outbox("pending", 50) if e.kind == "goods"]
            assert len(goods) == 1
            audit = [(r.actor, r.action, r.origin, r.result) for r in await store.audit_log()]
            user = getpass.getuser()
            assert audit[::-1] == [
                (user, "assign weighing plate", "cli", "ok"),
                (user, "assign weighing plate", "cli", "ok"),
                (user, "discard weighing", "cli", "ok"),
                (user, "drop scale read", "cli", "ok"),
                (user, "drop scale read", "cli", "refused"),
                (user, "clear weighing check", "cli", "ok"),
                (user, "clear weighing check", "cli", "refused"),
            ]
        finally:
            await store.close()

    asyncio.run(after())
    code, out, _ = _run(argvs[0], capsys)
    assert out.strip() == (
        "plate reads pending at 1号地磅: none\nweighings to check: none\n"
        "weighings without a plate: none"
    )


def _clear_the_check(checked: list[str], weighing: int, capsys: pytest.CaptureFixture[str]) -> None:
    """The clerk checked the pair marked 请核对重量 (``checked``): the mark is cleared, its goods
    record held meanwhile goes out; a second time is refused (nothing to check)."""
    code, out, err = _run(checked, capsys)
    assert code == 0, err
    assert f"weighing {weighing} (豫A11111) checked — weight: truck stopped twice" in out
    assert out.strip().endswith("goods record released: 1")
    code, _, err = _run(checked, capsys)
    assert (code, err.strip()) == (2, f"id: weighing {weighing} has nothing to check")


def _drop_the_cars_read(
    listing: list[str], drop: list[str], car: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """The car's read is still pending at the scale (``list`` shows it, with its age); a clerk
    drops it (``drop-read``): no candidate any more, once only."""
    code, out, _ = _run(listing, capsys)
    assert "plate reads pending at 1号地磅: 1" in out
    assert f"read {car}: 豫C33333 (lane in-1, " in out
    code, out, err = _run(drop, capsys)
    assert code == 0, err
    assert f"plate read {car} (豫C33333, lane in-1, pass " in out
    assert out.strip().endswith(") dropped")
    code, _, err = _run(drop, capsys)
    assert (code, err.strip()) == (2, f"read: plate read {car} is no candidate "
                                   f"already (dropped by {getpass.getuser()})")  # fmt: skip


def test_the_command_lines_refusals_name_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(scale_config(tmp_path))
    code, out, _ = _run(["weighings", "resolve", "--config", config, "1", "--read", "1"], capsys)
    assert (code, out.startswith("no ledger at")) == (1, True)
    assert not (tmp_path / "edge.db").exists()  # nothing weighed yet: none is created
    ids = asyncio.run(_held_weighings(tmp_path / "edge.db"))
    held, nobody, first = str(ids["held"]), str(ids["nobody"]), str(ids["first"])
    base = ["weighings", "--config", config]
    refusals = [
        (["resolve", held, "--read", str(ids["read"] + 99)], "--read: not a candidate plate"),
        (["resolve", held, "--plate", "无牌"], "--plate: '无牌' is not a plate"),
        (["resolve", first, "--read", str(ids["read"])], f"id: weighing {first} is open"),
        (["discard", held, "--reason", "  "], "--reason: no reason"),
        (["discard", held, "--reason", "x" * 65], "--reason: over 64 characters"),
        (["discard", held, "--reason", "试秤\u3164"], "or holds hidden characters"),
        (["discard", first, "--reason", "试秤"], f"id: weighing {first} is open"),
    ]
    for argv, said in refusals:
        code, _, err = _run([base[0], argv[0], *base[1:], *argv[1:]], capsys)
        assert (code, said in err) == (2, True), (argv, err)
    # an ideographic space (a Chinese IME's) is text: it was refused as not printable
    discard = [*base[:1], "discard", *base[1:], nobody, "--reason", "试秤\u3000无车"]
    assert _run(discard, capsys)[0] == 0
    code, _, err = _run([*base[:1], "resolve", *base[1:], nobody, "--read", "1"], capsys)
    assert (code, err.strip()) == (2, f"id: weighing {nobody} was discarded")
    code, _, err = _run([*base[:1], "discard", *base[1:], nobody, "--reason", "再次"], capsys)
    assert (code, f"weighing {nobody} is discarded" in err) == (2, True)
    code, out, _ = _run([*base[:1], "discard", *base[1:], "999", "--reason", "试秤"], capsys)
    assert (code, out.strip()) == (1, "unknown weighing")

    async def audited() -> list[tuple[str, str]]:
        store = await Store.open(tmp_path / "edge.db")
        try:
            return [(r.action, r.result) for r in await store.audit_log()][::-1]
        finally:
            await store.close()

    audit = asyncio.run(audited())
    assert len(audit) == len(refusals) + 4  # each action audited once, refusals included
    assert audit[-4:] == [
        ("discard weighing", "ok"), ("assign weighing plate", "refused"),
        ("discard weighing", "refused"), ("discard weighing", "failed"),
    ]  # fmt: skip


#: What each migration test's ledger holds: a pass, a complete weighing (7) tied to it, and
#: that weighing's goods record in the outbox.
_PAIR_7 = """
    INSERT INTO passes (id, serial, lane_id, gate_code, direction, plate, plate_color,
        camera_time, received_at, source, verdict, reason_code, reason, decided_by)
        VALUES (1, 'S1', 'in-1', '01', 'in', '豫A11111', '2', 1, 1, 'test', 'open',
                '', '', 'platform');
    INSERT INTO weighings (id, plate, plate_color, state, first_scale, first_kg, first_at,
        first_serial, second_kg, net_kg, goods, ysl)
        VALUES (7, '豫A11111', '2', 'complete', 'main', 35000, 1, 'S1', 15000, 20000, '煤', '20');
    INSERT INTO outbox (pass_id, kind, weighing_id, state, created_at)
        VALUES (1, 'goods', 7, 'pending', 1);
"""


def _ledger_at(path: Path, version: int, rows: str) -> list[tuple[object, ...]]:
    """A ledger file at schema ``version`` (its first migrations run as the ledger ran them)
    holding :data:`_PAIR_7` and ``rows`` (SQL), foreign keys on; its weighings, by id."""
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("PRAGMA foreign_keys=ON")
        for name, (arguments, function) in database.FUNCTIONS.items():
            db.create_function(name, arguments, function, deterministic=True)
        for number, script in enumerate(MIGRATIONS[:version], start=1):
            db.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")
        db.executescript(_PAIR_7 + rows)
        return db.execute("SELECT * FROM weighings ORDER BY id").fetchall()


async def test_migration_18_keeps_every_weighing_and_its_references(tmp_path: Path) -> None:
    """A ledger at schema 17 with weighings, a plate read and a goods record tied to them is
    upgraded in place: every row keeps its id and columns, the references hold, and a
    weighing can then be discarded."""
    path = tmp_path / "edge.db"
    before = _ledger_at(
        path,
        17,
        """
        INSERT INTO weighings (id, plate, plate_color, state, first_scale, first_kg, first_at,
            candidates) VALUES (8, NULL, '', 'unmatched', 'main', 900, 2, '[]');
        INSERT INTO scale_reads (scale, plate, plate_color, serial, lane_id, read_at,
            weighing_id) VALUES ('main', '豫A11111', '2', 'S1', 'in-1', 1, 7);
        """,
    )
    store = await Store.open(path)
    try:
        assert await store.schema_version() == len(MIGRATIONS) >= 18
        kept = await store.weighing(7)
        assert (kept.state, kept.net_kg, kept.ysl, kept.discarded) == (
            "complete",
            20000,
            "20",
            None,
        )
        discarded = await store.discard_weighing(8, "王五: 试秤")
        assert (discarded.state, discarded.discarded) == ("discarded", "王五: 试秤")
    finally:
        await store.close()
    with closing(sqlite3.connect(path)) as db:
        after = db.execute("SELECT * FROM weighings WHERE id = 7").fetchall()
        assert [row[:-5] for row in after] == before[:1]  # the new columns last, NULL
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        assert db.execute("SELECT weighing_id FROM outbox").fetchall() == [(7,)]


async def test_migration_19_never_gives_a_weighings_number_again(tmp_path: Path) -> None:
    """A ledger at schema 18 whose latest weighing (9) was folded into its pair: migration 19
    keeps every row and reference, and the next weighing is numbered above every number the
    ledger named (the folded one, in the audit), never 9 again."""
    path = tmp_path / "edge.db"
    before = _ledger_at(
        path,
        18,
        """
        INSERT INTO weighings (id, plate, plate_color, state, first_scale, first_kg, first_at,
            discarded) VALUES (8, NULL, '', 'discarded', 'main', 900, 2, '王五: 试秤');
        INSERT INTO audit (at, actor, action, target, origin, result)
            VALUES (3, 'clerk', 'assign weighing plate', '9', 'cli', 'ok'),
                   (4, 'clerk', 'assign weighing plate', '99999', 'cli', 'refused');
        """,
    )
    store = await Store.open(path)
    try:
        assert await store.schema_version() == len(MIGRATIONS) >= 19
        new = await store.weigh(
            NewWeighing("main", None, "", 800, 5, None), max_between_seconds=DAY
        )
        assert new.id == 10  # 9 was a truck's number (folded away); a refused 99999 was none
    finally:
        await store.close()
    with closing(sqlite3.connect(path)) as db:
        after = db.execute("SELECT * FROM weighings WHERE id < 10 ORDER BY id").fetchall()
        assert [row[:-4] for row in after] == before  # migrations 21, 25, 26 add columns last
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        assert db.execute("SELECT weighing_id FROM outbox").fetchall() == [(7,)]


async def _held_in_doubt(path: Path) -> tuple[int, int, int]:
    """A truck's first weighing tied to a car's read (豫AC1234), then put in doubt by the
    truck's own read heard while it stood on the scale: held with both (请核对车牌). Returns
    (the weighing, the car's read, the truck's read)."""
    store = await Store.open(path)
    try:
        now = time.time()
        car = await store.record_pass(new_pass("豫AC1234"), [])
        truck = await store.record_pass(new_pass("豫B11111"), [])
        car_read = await store.note_scale_read(
            NewScaleRead("main", "豫AC1234", "2", car.serial, "in-1", now - 30)
        )
        tied = await store.weigh(
            NewWeighing("main", "豫AC1234", "2", 31_000, now - 3, car_read.read.serial),
            max_between_seconds=DAY,
            read_id=car_read.id,
        )
        truck_read = await store.note_scale_read(
            NewScaleRead("main", "豫B11111", "2", truck.serial, "in-1", now - 1)
        )
        held = await store.doubt_tie(car_read, truck_read)
        assert held is not None
        assert (held.id, held.held, [c.kind for c in held.checks]) == (tied.id, True, ["plate"])
        return held.id, car_read.id, truck_read.id
    finally:
        await store.close()


def test_a_clerks_plate_resolves_a_weighing_held_in_doubt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``list`` shows the weighing held in doubt under the weighings to check, with why, and
    as held with both candidates; giving it the truck's read resolves the doubt — the audit
    says the plate check was cleared."""
    config = str(scale_config(tmp_path))
    held, _car, truck = asyncio.run(_held_in_doubt(tmp_path / "edge.db"))
    code, out, _ = _run(["weighings", "list", "--config", config], capsys)
    assert code == 0
    assert "weighings to check: 1\n" in out
    assert "check plate (its goods record will wait): tied to 豫AC1234" in out
    assert f"--read {truck}: 豫B11111" in out
    # the truck's read came 2 s after the weighing, the car's 27 s before it
    assert re.search(rf"--read {truck}: 豫B11111 \(.*, 2 s after the weighing, pass ", out), out
    assert re.search(rf"--read {_car}: 豫AC1234 \(.*, 27 s before the weighing, pass ", out), out
    argv = ["weighings", "resolve", "--config", config, str(held), "--read", str(truck)]
    code, out, err = _run(argv, capsys)
    assert code == 0, err
    assert "plate check cleared: tied to 豫AC1234" in out

    async def after() -> None:
        store = await Store.open(tmp_path / "edge.db")
        try:
            row = await store.weighing(held)
            assert (row.plate, row.state, row.checks) == ("豫B11111", "open", [])
            [audit] = await store.audit_log()
            assert (audit.action, audit.result) == ("assign weighing plate", "ok")
            assert "plate check cleared" in audit.detail
        finally:
            await store.close()

    asyncio.run(after())


async def _held_with_its_candidate_used(path: Path) -> int:
    """A weighing held with one candidate read that a later weighing then used."""
    store = await Store.open(path)
    try:
        now = time.time()
        seen = await store.record_pass(new_pass("豫A11111", direction="out"), [])
        read = await store.note_scale_read(
            NewScaleRead("main", "豫A11111", "2", seen.serial, "in-1", now - 30)
        )
        held = await store.weigh(NewWeighing("main", None, "", 15000, now - 20, None),
                                 max_between_seconds=DAY, candidates=[read])  # fmt: skip
        await store.weigh(NewWeighing("main", "豫A11111", "2", 30000, now - 10, seen.serial),
                          max_between_seconds=DAY, read_id=read.id)  # fmt: skip
        return held.id
    finally:
        await store.close()


def test_a_held_weighing_with_no_candidate_left_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The fourth review: its only candidate used elsewhere, the list showed nothing under
    it (the page "候选：" and nothing after)."""
    held = asyncio.run(_held_with_its_candidate_used(tmp_path / "edge.db"))
    code, out, _ = _run(["weighings", "list", "--config", str(scale_config(tmp_path))], capsys)
    assert code == 0
    assert re.search(rf"{held} .* 待确认车牌\n        no candidate left \(other weighings used "
                     r"them\): --plate … or discard\n", out), out  # fmt: skip


async def _stops(path: Path) -> dict[str, int]:
    """A ledger where 豫T10001 weighed at 21000 kg, then 39000 kg was taken after the scale
    was not watched (held, linked, ``unwatched``) — twice over for two trucks — and 豫H80009's
    completed pair (35 t in, 14 t out) stopped again at 14600 kg (请核对重量, goods held)."""
    store = await Store.open(path)
    try:
        now = time.time()
        ids: dict[str, int] = {}
        for name, plate in (("same", "豫T10001"), ("back", "豫T10002")):
            seen = await store.record_pass(new_pass(plate), [])
            first = await store.weigh(
                NewWeighing("main", plate, "2", 21_000, now - 60, seen.serial),
                max_between_seconds=DAY,
            )
            held = await store.weigh(
                NewWeighing("main", None, "", 39_000, now - 30, None),
                max_between_seconds=DAY,
                stop_of=first.id,
                stop_unwatched=True,
            )
            ids[name], ids[f"{name}_first"] = held.id, first.id
        out = await store.record_pass(new_pass("豫H80009", direction="out"), [])
        await store.weigh(
            NewWeighing("main", "豫H80009", "2", 35_000, now - 600, None), max_between_seconds=DAY
        )
        pair = await store.weigh(
            NewWeighing("main", "豫H80009", "2", 14_000, now - 500, out.serial),
            max_between_seconds=DAY,
            goods="石灰石",
        )
        assert await store.check_weight(pair, 14_000, 14_600) is not None
        ids["pair"] = pair.id
        return ids
    finally:
        await store.close()


def test_a_clerk_says_same_truck_or_returned_and_takes_a_higher_stop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``same-truck``: the held 39000 kg is 豫T10001 stopped again (its weighing takes it);
    ``resolve --plate … --returned``: 豫T10002 came back, the two pair (18 t); without
    ``--returned`` that is refused, naming both; ``higher-weight``: the pair takes 14600 kg
    (net 20.4 t) and its goods record goes out. ``list`` says what each may be."""
    config = scale_config(tmp_path)
    ids = asyncio.run(_stops(tmp_path / "edge.db"))
    base = ["weighings"]
    code, out, _ = _run([*base, "list", "--config", str(config)], capsys)
    assert code == 0
    assert (
        f"after weighing {ids['same_first']} (the scale not watched since: stopped again, or "
        f"left and came back): the same truck? edge weighings same-truck --config … {ids['same']}"
    ) in out
    assert f"higher-weight --config … {ids['pair']}" in out
    assert "weighings without a plate: 2\n" in out  # their heading (it was said only for none)
    code, out, err = _run([*base, "same-truck", "--config", str(config), str(ids["same"])], capsys)
    assert code == 0, err
    assert (
        f"is a second stop of weighing {ids['same_first']} (豫T10001): it is now open, 39000" in out
    )
    resolve = [*base, "resolve", "--config", str(config), str(ids["back"]), "--plate", "豫T10002"]
    code, _, err = _run(resolve, capsys)
    assert code == 2
    assert "same-truck" in err
    assert "--returned" in err
    code, out, err = _run([*resolve, "--returned"], capsys)
    assert code == 0, err
    assert f"now complete as weighing {ids['back_first']}" in out
    higher = [*base, "higher-weight", "--config", str(config), str(ids["pair"])]
    code, out, err = _run(higher, capsys)
    assert code == 0, err
    assert (
        "takes its higher stop: net 21000 → 20400 kg; goods record 20.4 t; goods record "
        "released: 1" in out
    )
    code, _, err = _run(higher, capsys)
    assert (code, err.strip()) == (2, f"id: weighing {ids['pair']} has no higher stop to take")

    async def after() -> None:
        store = await Store.open(tmp_path / "edge.db")
        try:
            same = await store.weighing(ids["same_first"])
            assert (same.state, same.first_kg) == ("open", 39_000)
            assert (await store.weighing(ids["same"])).state == "discarded"
            back = await store.weighing(ids["back_first"])
            assert (back.state, back.net_kg) == ("complete", 18_000)
            user = getpass.getuser()
            audit = [(r.actor, r.action, r.result) for r in await store.audit_log()]
            assert audit[::-1] == [
                (user, "weighing is a second stop", "ok"),
                (user, "assign weighing plate", "refused"),
                (user, "assign weighing plate", "ok"),
                (user, "take higher weight", "ok"),
                (user, "take higher weight", "refused"),
            ]
        finally:
            await store.close()

    asyncio.run(after())


def test_a_clerk_types_a_suffixed_plate_as_cameras_read_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``resolve --plate 豫G88362挂`` (a fleet's trailer, the README's example; cameras' reads
    of it are used): taken, not refused as 「不是车牌」 — before, a typed plate had to fit a
    known pattern and a special-use character after five characters fit none."""
    config = str(scale_config(tmp_path))
    ids = asyncio.run(_held_weighings(tmp_path / "edge.db"))
    resolve = ["weighings", "resolve", "--config", config, str(ids["held"])]
    code, out, err = _run([*resolve, "--plate", "豫g 88362挂"], capsys)
    assert "is not a plate" not in err
    assert code == 0, err
    assert f"weighing {ids['held']}: 豫G88362挂 (typed), now open" in out
