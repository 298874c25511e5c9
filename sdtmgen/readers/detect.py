"""What an export looks like, without reading it: ODM and REDCap-dictionary sniffing and plain form names.

Kept apart from ``sdtmgen.readers`` so that each reader can use them without importing the package
that opens the readers (no import cycle).
"""

from __future__ import annotations

import re
from pathlib import Path

FORMATS = ("csv", "odm", "redcap")
#: the header of a REDCap data dictionary (CSV download) starts with one of these
DICTIONARY_HEADS = ("variable / field name", "field_name")


def _head(path: Path, size: int = 4096) -> bytes:
    with path.open("rb") as handle:
        return handle.read(size)


def is_odm(path: Path) -> bool:
    """Whether an XML file's root element is ODM (any namespace)."""
    if path.suffix.lower() != ".xml" or not path.is_file():
        return False
    head = _head(path).decode("utf-8", "replace")
    head = re.sub(r"<\?.*?\?>|<!--.*?-->", "", head, flags=re.S)
    return re.match(r"\s*<(\w+:)?ODM[\s>]", head) is not None


def is_dictionary(path: Path) -> bool:
    if path.suffix.lower() != ".csv" or not path.is_file():
        return False
    first = _head(path, 256).lstrip(b"\xef\xbb\xbf").decode("utf-8", "replace").split(",", 1)[0]
    return first.strip().strip('"').strip().lower() in DICTIONARY_HEADS



def form_name(text: str) -> str:
    """A plain form name (lower-case letters, digits, _) from an export's form identifier."""
    name = re.sub(r"[^a-z0-9_]+", "_", text.strip().lower()).strip("_")
    return name if re.match(r"[a-z]", name or "") else f"f_{name}"
