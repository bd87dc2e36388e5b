from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from edge.cli.main import main
from edge.config.model import load_config
from edge.sim.platform import CityPlatformSim, Fault
from tests.helpers import camera, eventually, running_daemon, wait_records, write_config


async def test_dead_letters_can_be_listed_shown_and_retried(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = CityPlatformSim(faults=[Fault("code", "952", "shareDrivingRecord")])
    await sim.start()
    config = write_config(tmp_path / "config.toml", sim.base_url)

    async def edge(*args: str) -> int:
        # the command has its own event loop, as it would in its own process
        return await asyncio.to_thread(main, ["outbox", "--config", str(config), *args])

    async with running_daemon(load_config(config)) as daemon:
        daemon.forwarder.poll_seconds = 0.1
        cam = camera(daemon)
        serial = str((await cam.push("豫A12345")).body["serial"])
        await cam.aclose()

        async def dead() -> bool:
            return (await daemon.store.outbox_counts()).get("dead") == 1

        await eventually(dead)

        assert await edge("list") == 0
        out = capsys.readouterr().out
        assert "dead 1" in out
        assert serial in out
        assert "952" in out
        assert await edge("show", serial) == 0
        out = capsys.readouterr().out
        assert "record dead" in out
        assert "verdict: open" in out
        assert "camera sent: {" in out  # the generic JSON push, kept for diagnosis
        assert "characters>" in out  # …with its base64 photo elided
        assert await edge("show", "nope") == 1
        capsys.readouterr()
        assert await edge("list", "--state", "all") == 0
        assert capsys.readouterr().out.count(serial) == 2  # the record and its photo
        assert await edge("retry") == 0  # beside the running daemon
        assert "1 dead letter(s) queued" in capsys.readouterr().out
        await wait_records(sim, 1, photos=1)  # picked up by the forwarder's poll
    await sim.stop()
    assert list(sim.records) == [serial]
    assert main(["outbox", "--config", str(tmp_path / "missing.toml"), "list"]) == 2


async def test_outbox_list_counts_the_filings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`edge outbox list` has a line for the electronic ledger's filings (pending, dead)."""
    from edge.domain.filing import parse_entry
    from edge.ledger.store import Store
    from tests.test_filing import TRUCK

    config = write_config(tmp_path / "config.toml", "http://127.0.0.1:9")
    store = await Store.open(load_config(config).storage.database)
    try:
        await store.add_entry(parse_entry("vehicle", TRUCK), "clerk", file_to="city")
        other = {**TRUCK, "plate": "豫A99999", "vin": "LZZAELJD5KA654321"}
        dead = await store.add_entry(parse_entry("vehicle", other), "clerk", file_to="city")
        (row,) = await store.filing_outbox_of(dead)
        await store.filing_failed(row.id, "gone", None)
    finally:
        await store.close()
    assert await asyncio.to_thread(main, ["outbox", "--config", str(config), "list"]) == 0
    out = capsys.readouterr().out
    assert "filings: pending 1, dead 1, oldest queued 20" in out
    assert "edge vehicles retry" in out
