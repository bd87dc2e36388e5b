"""The demo's stream of trucks (``edge demo``) never runs out of plates, however long it runs."""

from __future__ import annotations

import shutil

from edge.sim.demo import _PLATES, Demo


def test_a_long_demo_never_runs_out_of_plates() -> None:
    demo = Demo("generic", seed=7)  # the default seed: it ran dry after ~45 trucks
    shutil.rmtree(demo.workdir)  # made by the constructor; nothing is started here
    arrivals = departures = 0
    for _ in range(5_000):
        inside_before = list(demo.inside)
        leaving, plate = demo.next_vehicle()
        if leaving is not None:
            assert leaving in inside_before
            departures += 1
        else:
            arrivals += 1
            if plate is not None:  # every truck is let in, the worst case for fresh plates
                assert plate not in inside_before
                demo.inside.append(plate)
        assert len(demo.inside) <= len(_PLATES)
    assert arrivals > 1_000
    assert departures > 1_000
