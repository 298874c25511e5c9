"""What an export looks like, without reading it: ODM, REDCap-dictionary and SAS-folder sniffing and plain form names.

Kept apart from ``sdtmgen.readers`` so that each reader can use them without importing the package
that opens the readers (no import cycle).
"""

from __future__ import annotations

import re
from pathlib import Path

FORMATS = ("csv", "odm", "redcap", "sas", "sdtm")
#: the files of a folder of SAS datasets (format sas)
SAS_SUFFIXES = (".sas7bdat", ".xpt")
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


def sas_files(folder: Path) -> list[Path]:
    """The SAS datasets (``.sas7bdat``, ``.xpt``) of a folder."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in SAS_SUFFIXES and p.is_file())


def is_sdtm_package(folder: Path) -> bool:
    """Whether a folder holds an SDTM package rather than raw forms: a ``dm.xpt`` whose variables
    include STUDYID, DOMAIN and USUBJID (read from its header only)."""
    dm = next((p for p in folder.glob("*.xpt") if p.name.lower() == "dm.xpt"), None)
    if dm is None:
        return False
    import pyreadstat

    try:
        _, meta = pyreadstat.read_xport(str(dm), metadataonly=True)
    except Exception:  # an unreadable file is reported by the reader that opens it
        return False
    return {"STUDYID", "DOMAIN", "USUBJID"} <= {str(c).upper() for c in meta.column_names}


#: the options each reader takes (study.yaml ``raw: {options: {...}}``): key -> allowed values (None: any text)
READER_OPTIONS: dict[str, dict[str, object]] = {
    "csv": {"encoding": "codec", "delimiter": "char", "quotechar": "char", "na_values": "texts"},
    "odm": {"items": ("oid", "name"), "forms": ("oid", "name"), "decode": bool},
    "redcap": {"decode": bool, "columns": ("auto", "field", "label")},
    "sas": {"dates": ("text", "iso"), "encoding": "codec"},
    "sdtm": {},
}


def option_problems(fmt: str, options: dict) -> list[str]:
    """What is wrong with a reader's options, each message naming the key (empty: nothing)."""
    import codecs

    known: dict[str, object] = {}
    for name in ([fmt] if fmt in READER_OPTIONS else list(READER_OPTIONS)):
        known.update(READER_OPTIONS[name])
    problems = []
    for key, value in options.items():
        where = f"options.{key}"
        kind = known.get(key)
        if kind is None:
            problems.append(f"{where}: not an option of the {fmt} reader (its options: "
                            f"{', '.join(sorted(known)) or 'none'})")
        elif kind is bool:
            if not isinstance(value, bool):
                problems.append(f"{where}: true or false, got {value!r}")
        elif isinstance(kind, tuple):
            if value not in kind:
                problems.append(f"{where}: one of {', '.join(kind)}, got {value!r}")
        elif kind == "codec":
            try:
                # a text encoding: rot13, hex, base64, zlib are codecs too, but bytes-to-bytes or str-to-str
                if isinstance(value, bool) or not getattr(codecs.lookup(str(value)), "_is_text_encoding", True):
                    raise LookupError
            except LookupError:
                problems.append(f"{where}: {value!r} is not a known text encoding (e.g. utf-8, latin-1, cp1252)")
        elif kind == "char":
            if not isinstance(value, str) or len(value) != 1 or value in "\r\n" or ord(value) > 127:
                problems.append(f"{where}: one ASCII character other than a line break, got {value!r}")
        elif kind == "texts":
            values = [value] if isinstance(value, str) else value
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                problems.append(f"{where}: a text or a list of texts, got {value!r}")
            elif "" in values:
                problems.append(f"{where}: an empty text is already read as no value; list only other tokens")
    if fmt in ("csv", "auto") and ({"delimiter", "quotechar"} & set(options)) \
            and options.get("delimiter", ",") == options.get("quotechar", '"'):
        problems.append(f"options.quotechar: the same character as options.delimiter "
                        f"({options.get('delimiter', ',')!r}; the defaults are ',' and '\"')")
    return problems
