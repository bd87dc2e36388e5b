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
