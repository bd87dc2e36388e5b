from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from edge.logsetup import setup_logging
from edge.sim.platform import CityPlatformSim


@pytest.fixture(autouse=True)
def _console_logs() -> None:
    setup_logging("debug", "console")


@pytest.fixture
async def platform_sim() -> AsyncIterator[CityPlatformSim]:
    sim = CityPlatformSim()
    await sim.start()
    yield sim
    await sim.stop()
