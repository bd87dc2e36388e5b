"""Simulators for what cannot run here: the platform, cameras, and (in drivers.virtual) devices.

They speak the real wire formats, so technicians can use them to rehearse a site too.
"""

from typing import Literal, get_args

#: Cameras the demo can put at the entrance: the push formats, and those the daemon pulls from
#: (their doubles are started by the demo: an ONVIF device, a Dahua event stream, a serial
#: port, an MQTT broker). Here, so that the command line lists them without loading the demo.
DemoCamera = Literal[
    "vzenith",
    "hikvision",
    "dahua",
    "milesight",
    "generic",
    "onvif",
    "dahua-pull",
    "serial",
    "mqtt",
]
DEMO_CAMERAS: tuple[str, ...] = get_args(DemoCamera)

#: The indicator protocols a simulated scale speaks (``edge.sim.scale``, ``drivers.weighing``).
ScaleProtocol = Literal["yaohua-tf0", "yaohua-equals", "yaohua-a12", "toledo", "command"]
#: Those protocols (here, so that the command line lists them without loading the simulator).
SCALE_PROTOCOLS: tuple[ScaleProtocol, ...] = get_args(ScaleProtocol)
#: What ``edge demo --scale PROTOCOL`` takes, as the technician knows the indicators;
#: ``yaohua`` is short for ``yaohua-tf0`` (the XK3190's continuous output).
DEMO_SCALES: dict[str, ScaleProtocol] = {
    "toledo": "toledo",
    "yaohua": "yaohua-tf0",
    **{name: name for name in get_args(ScaleProtocol)},
}
