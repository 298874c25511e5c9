"""Imports every family of data-review checks, so that they register."""

from sdtmgen.review import consistency, duplicates, plausibility  # noqa: F401
