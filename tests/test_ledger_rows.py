"""The ledger's rows as typed values: the non-trivial mappings (the stored verify answer
decoded once, a correction's answer, the day's "controlled" figure from the domain's
taxonomy), and the rule that no ``sqlite3.Row`` leaves :mod:`edge.ledger`."""

from __future__ import annotations

import contextlib
import importlib
import inspect
import pkgutil
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import edge
from edge.domain.codes import ControlFlag, GateSignal
from edge.domain.decision import CONTROL_CODES, Decision, control_refusal
from edge.domain.reports import VerifyAnswer
from edge.ledger.rows import StoredPass, decode_answer, encode_answer
from edge.ledger.store import Store
from tests.test_store import OPEN, PHOTO, new_pass

ANSWER = VerifyAnswer(ControlFlag.CONTROLLED, "国四柴油 重污染管控", "B", "4", blacklist="2")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await Store.open(tmp_path / "edge.db", clock=lambda: 1000.0)
    yield s
    await s.close()


def test_answer_round_trip() -> None:
    assert decode_answer(encode_answer(ANSWER)) == ANSWER
    assert decode_answer(None) is None
    assert encode_answer(None) is None


async def test_stored_pass_carries_the_decoded_answer(store: Store) -> None:
    decision = Decision(open=False, code="platform-controlled", reason="管控", source="platform",
                        answer=ANSWER)  # fmt: skip
    asked = await store.record_pass(new_pass(decision=decision), [PHOTO])
    local = Decision(open=True, code="allow-list", reason="白名单", source="local")
    unasked = await store.record_pass(new_pass(plate="豫B6789G", decision=local), [])
    row = await store.get_pass(asked.id)
    assert isinstance(row, StoredPass)
    assert (row.answer, row.verdict, row.reason_code, row.decided_by) == (
        ANSWER, "refuse", "platform-controlled", "platform",
    )  # fmt: skip
    assert (row.state, row.gate_signal, row.barrier) == ("open", None, None)
    assert (await store.get_pass(unasked.id)).answer is None
    (photo,) = await store.photos_of(asked.id)
    assert (photo.pass_id, photo.number, photo.path, photo.pruned_at) == (
        asked.id, 1, PHOTO.path, None,
    )  # fmt: skip
    await store.finalise(asked.id, GateSignal.NOT_LIFTED, 1001.0, "timeout")
    final = await store.find_pass(asked.serial)
    assert final is not None
    assert (final.state, final.gate_signal, final.passed_at) == ("final", 1, 1001.0)
    (entry, photo_entry) = await store.outbox_of(asked.serial)
    assert (entry.kind, entry.state, photo_entry.kind, photo_entry.photo_id) == (
        "record", "pending", "photo", photo.id,
    )  # fmt: skip


async def test_correction_carries_the_decoded_answer(store: Store) -> None:
    recorded = await store.record_pass(new_pass(), [])
    with_answer = await store.add_correction(recorded.id, "豫A12346", "1", ANSWER, "张三",
                                             forward=False)  # fmt: skip
    without = await store.add_correction(recorded.id, "豫A12347", "2", None, "李四", forward=False)
    first = await store.get_correction(with_answer)
    assert (first.pass_id, first.plate, first.answer, first.reviewer) == (
        recorded.id, "豫A12346", ANSWER, "张三",
    )  # fmt: skip
    assert (await store.get_correction(without)).answer is None


def _old_like_pattern(code: str) -> bool:
    """The "controlled" taxonomy as the ledger's SQL wrote it before (LIKE patterns)."""
    return code.endswith(("controlled", "quota-full", "blacklist")) or "plan-" in code


#: Every refusal code the decision makes (with the prefixes it adds to platform answers).
_REFUSALS = sorted(
    {f"{prefix}{code}" for prefix in ("platform-", "offline-cache-") for code in CONTROL_CODES}
    | {f"{prefix}gate-decides" for prefix in ("platform-", "offline-cache-")}
    | {
        "deny-list",
        "no-plate",
        "offline-deny",
        "offline-cache-miss-deny",
        "offline-plan-stop",
        "stale-read",
        "plate-unreadable",
        "camera-offline-refuse",
        "guard-refuse",
        "gate-crash",
        "controlled",
        "blacklist",
        "quota-full",
        "plan-forbids",
        "plan-incomplete",
    }
)


@pytest.mark.parametrize("code", _REFUSALS)
def test_control_taxonomy_matches_the_old_patterns(code: str) -> None:
    assert control_refusal(code, refused=True) == _old_like_pattern(code)
    assert not control_refusal(code, refused=False)


async def test_daily_controlled_figure_from_the_domain(store: Store) -> None:
    for code in _REFUSALS:
        refusal = Decision(open=False, code=code, reason="x", source="platform")
        await store.record_pass(new_pass(decision=refusal), [])
    await store.record_pass(new_pass(decision=OPEN), [])
    (row,) = await store.daily_figures(0, 10**10)
    expected = sum(_old_like_pattern(code) for code in _REFUSALS)
    assert expected > 0
    assert (row.lane_id, row.direction, row.refused, row.controlled) == (
        "in-1", "in", len(_REFUSALS), expected,
    )  # fmt: skip


def _public_callables() -> list[tuple[str, object]]:
    found: list[tuple[str, object]] = []
    for info in pkgutil.walk_packages(edge.__path__, "edge."):
        if info.name.startswith("edge.ledger") or info.name == "edge.__main__":
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if name.startswith("_") or getattr(value, "__module__", None) != info.name:
                continue
            if inspect.isfunction(value):
                found.append((f"{info.name}.{name}", value))
            elif inspect.isclass(value):
                for attr, member in vars(value).items():
                    if not attr.startswith("_") and inspect.isfunction(member):
                        found.append((f"{info.name}.{name}.{attr}", member))
    return found


def test_no_sqlite_row_outside_the_ledger() -> None:
    """No public function outside :mod:`edge.ledger` takes or returns an ``sqlite3.Row``."""
    callables = _public_callables()
    assert len(callables) > 100  # the walk found the packages
    leaks = []
    for name, function in callables:
        with contextlib.suppress(NameError, TypeError):  # a forward reference it cannot resolve
            hints = inspect.get_annotations(function, eval_str=True)  # type: ignore[arg-type]
            if any(_mentions_row(hint) for hint in hints.values()):
                leaks.append(name)
        text = str(inspect.get_annotations(function))  # type: ignore[arg-type]
        if "sqlite3.Row" in text or "aiosqlite" in text:
            leaks.append(name)
    assert leaks == []


def _mentions_row(hint: object) -> bool:
    if hint is sqlite3.Row:
        return True
    return any(_mentions_row(arg) for arg in getattr(hint, "__args__", ()))
