"""The stored columns that follow a profile's own fields: the one rule, used by the API, importer and seed.

`county_code` is the first six digits of the region code (what the same-county rule compares), and
the channel and resource lists are also kept as bit masks, so a filter stays one indexed-column test.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from matching.vocab import CHANNELS, RESOURCE_TYPES


def bitmask(values: Iterable[str], vocabulary: tuple[str, ...]) -> int:
    """Multi-valued vocabulary fields as a bitmask, so filters stay one indexed-column comparison."""
    return sum(1 << vocabulary.index(v) for v in set(values))


def derived_columns(
    *,
    region_code: str | None = None,
    channels: Iterable[str] | None = None,
    resources: Iterable[str] | None = None,
) -> dict[str, Any]:
    """The derived columns for the fields given (None: that field is not being set).

    resources are resource type codes: a mentor's offered types or a newcomer's needed ones.
    """
    columns: dict[str, Any] = {}
    if region_code is not None:
        columns["county_code"] = region_code[:6]
    if channels is not None:
        columns["channels_mask"] = bitmask(channels, CHANNELS)
    if resources is not None:
        columns["resources_mask"] = bitmask(resources, RESOURCE_TYPES)
    return columns
