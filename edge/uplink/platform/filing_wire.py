"""The electronic ledger's entries as the platforms' filing methods name their fields
(research/ledger-and-weighbridge.md §4.3–4.4; decisions of §4.5 in README "Electronic
ledger"): our field names → the spec's, images as base64, dates as stored (``yyyy-MM-dd``)."""

from __future__ import annotations

import base64
from collections.abc import Mapping

from edge.domain.filing import WIRE_NAMES, Entry, ImageKind, Machine, entry_form

#: Each register's method, per platform and step (city has one method; province Add/Modify).
METHODS: dict[str, dict[str, tuple[str, str]]] = {
    "city": {
        "vehicle": ("shareVehInfo", "shareVehInfo"),
        "inner": ("shareInnerVehInfo", "shareInnerVehInfo"),
        "machine": ("shareInnerMHYElec", "shareInnerMHYElec"),
    },
    "province": {
        "vehicle": ("VehElecAccountAdd", "VehElecAccountModify"),
        "inner": ("InnerVehElecAccountAdd", "InnerVehElecAccountModify"),
        "machine": ("InnerMHYElecAccountAdd", "InnerMHYElecAccountModify"),
    },
}

#: The methods that create a filing (a second one would give the vehicle a second licensePK).
ADDS = frozenset(add for add, modify in METHODS["province"].values() if add != modify)


def method_for(mode: str, entry: Entry, license_pk: str) -> str:
    """The method that files ``entry`` now: Modify once the platform gave a licensePK."""
    add, modify = METHODS[mode][entry.REGISTER.value]
    return modify if license_pk else add


def _b64(data: bytes | None) -> str:
    return base64.b64encode(data).decode() if data else ""


def wire_fields(entry: Entry, images: Mapping[ImageKind, bytes]) -> dict[str, str]:
    """The entry's fields under the spec's names, with its images: a vehicle's 行驶证 as
    drivingLicenseImg and 随车清单 as drivingLicenseImg2; a machine's one ``imageInfo``, its
    发动机铭牌 (else its 随车清单). A transport vehicle sends no status (its methods have none)."""
    names = WIRE_NAMES[entry.REGISTER]
    form = entry_form(entry)
    fields = {wire: form[ours] for ours, wire in names.items()}
    if isinstance(entry, Machine):
        image = images.get(ImageKind.NAMEPLATE) or images.get(ImageKind.EMISSION_LIST)
        fields["imageInfo"] = _b64(image)
    else:
        fields["drivingLicenseImg"] = _b64(images.get(ImageKind.DRIVING_LICENSE))
        fields["drivingLicenseImg2"] = _b64(images.get(ImageKind.EMISSION_LIST))
    return fields
