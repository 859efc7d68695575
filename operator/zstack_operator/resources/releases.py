"""Which ZStack releases know which spec fields (ZSTACK-API.md sections 3.2-3.4, 10 row 4).

Owned here: ``unsupported`` (the spec fields a given ZStack version would silently drop: Gson
ignores unknown JSON keys, so sending them changes nothing and comparing them reads as
permanent drift) and the release each field arrived in. The version comes from GetVersion per
connection; an unknown or unparsable one counts as the newest (everything supported), because
refusing to send a field on a guess would be worse than a field ZStack ignores.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

Version = tuple[int, ...]

#: The first release known to have each field; absent fields exist in every supported release.
#: 5.3.20 added ``source`` (the old framework values moved there); the newest documented release
#: replaced dockerImage/vmImageUuid by ``architectureImages`` and added the container and GPU
#: fields. Its exact number is not in the sources, so "after 5.3.20" is what the table says.
_AFTER_5_3_20: Version = (5, 3, 21)
SINCE: dict[str, Version] = {
    "source": (5, 3, 20),
    "architecture_images": _AFTER_5_3_20,
    "support_distributed": _AFTER_5_3_20,
    "container_command": _AFTER_5_3_20,
    "container_args": _AFTER_5_3_20,
    "vendor_to_spec_uuids_map": _AFTER_5_3_20,
}


def parse(version: str | None) -> Version | None:
    """``"5.1.20"`` -> (5, 1, 20); None when there is no leading dotted number."""
    found = re.match(r"\s*(\d+(?:\.\d+)*)", version or "")
    return tuple(int(p) for p in found.group(1).split(".")) if found else None


def unsupported(version: str | None, set_fields: Iterable[str]) -> tuple[str, ...]:
    """The fields of ``set_fields`` (snake_case) that ZStack ``version`` does not know."""
    parsed = parse(version)
    if parsed is None:
        return ()
    return tuple(f for f in set_fields if f in SINCE and parsed < SINCE[f])
