"""The creation instant written into file headers (XPT, define.xml, Dataset-JSON).

The headers of a build carry one instant, chosen in this order:

1. ``--timestamp`` (ISO 8601 date or date-time; an offset is converted to UTC);
2. the ``SOURCE_DATE_EPOCH`` environment variable (seconds since 1970-01-01 UTC, the
   reproducible-builds convention, https://reproducible-builds.org/specs/source-date-epoch/);
3. otherwise the fixed instant 1970-01-01T00:00:00, so that the same inputs give the same bytes.

The wall clock is never read: a build is reproducible whichever way its instant is given.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Mapping, Optional

from sdtmgen.errors import SdtmgenError

ENVIRONMENT_VARIABLE = "SOURCE_DATE_EPOCH"


class TimestampError(SdtmgenError):
    """The build's timestamp (option or environment variable) cannot be read."""


def _utc(value: datetime) -> datetime:
    """UTC without an offset (the headers have no room for one), to the second."""
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value.replace(microsecond=0)


def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 date (midnight) or date-time, e.g. ``2026-12-03``, ``2026-12-03T19:30:00Z``."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise TimestampError(f"--timestamp {text!r} is not an ISO 8601 date or date-time "
                             "(e.g. 2026-12-03 or 2026-12-03T19:30:00Z)") from None
    return _check(_utc(value), f"--timestamp {text!r}")


def _check(value: datetime, what: str) -> datetime:
    # XPT headers write a two-digit year; keep to the years SAS reads back unambiguously
    if not 1960 <= value.year <= 2059:
        raise TimestampError(f"{what}: the year {value.year} is outside 1960-2059, which XPT headers can hold")
    return value


def build_timestamp(option: Optional[str] = None,
                    environ: Mapping[str, str] | None = None) -> Optional[datetime]:
    """The instant the headers carry, or None for the fixed default (1970-01-01T00:00:00)."""
    if option:
        return parse_timestamp(option)
    environ = os.environ if environ is None else environ
    raw = environ.get(ENVIRONMENT_VARIABLE, "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise TimestampError(f"{ENVIRONMENT_VARIABLE}={raw!r} is not a whole number of seconds since "
                             "1970-01-01T00:00:00Z")
    try:
        value = datetime.fromtimestamp(int(raw), tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise TimestampError(f"{ENVIRONMENT_VARIABLE}={raw!r} is out of range") from None
    return _check(_utc(value), f"{ENVIRONMENT_VARIABLE}={raw}")
