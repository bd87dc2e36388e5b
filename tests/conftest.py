from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from edge.logsetup import setup_logging
from edge.sim.platform import CityPlatformSim, PlatformSim
from edge.sim.province import ProvincePlatformSim


@pytest.fixture(autouse=True)
def _console_logs() -> None:
    setup_logging("debug", "console")


@pytest.fixture
async def platform_sim() -> AsyncIterator[CityPlatformSim]:
    sim = CityPlatformSim()
    await sim.start()
    yield sim
    await sim.stop()


@pytest.fixture(params=["city", "province"])
async def any_platform(request: pytest.FixtureRequest) -> AsyncIterator[PlatformSim]:
    """The platform simulator of either API: tests using it run in both modes."""
    sim: PlatformSim = CityPlatformSim() if request.param == "city" else ProvincePlatformSim()
    await sim.start()
    yield sim
    await sim.stop()
