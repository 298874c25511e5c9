"""Standards data shipped with sdtmgen, resolved by kind and version.

The package holds, in its own layout (``data/<kind>/<version>/``, written by
``scripts/build_standards.py`` from the public source files, each folder with a ``PROVENANCE``):

==========  =============  =====================================================================
kind        versions       content
==========  =============  =====================================================================
sdtmig      3.4            SDTMIG variable metadata (dataset, name, label, type, core, role...)
adamig      1.3            ADaMIG variable metadata (data structure, name, label, type, core...)
ctcae       5.0            NCI CTCAE lab grading criteria as data (SI and US units)
ct          2025-03-28     NCI SDTM and ADaM controlled terminology
define_ct   2025-09-26     NCI Define-XML controlled terminology
==========  =============  =====================================================================

``study.yaml`` names each standard by version (``standards: {sdtmig: "3.4", ctcae: "5.0", ...}``);
a sponsor may name their own file instead (``sdtmig_file``, ``adamig_file``, ``ctcae_file``), a
path inside the spec folder. A version that is not packaged, or a file that cannot be read, is a
SpecError: nothing the build needs is skipped quietly.
"""

from __future__ import annotations

import gzip
import io
from functools import lru_cache
from pathlib import Path

import pandas as pd

from sdtmgen.errors import SpecError

DATA = Path(__file__).resolve().parent / "data"

#: kind -> what it is (for messages)
KINDS = {"sdtmig": "SDTMIG variable metadata", "adamig": "ADaMIG variable metadata",
         "ctcae": "CTCAE grading criteria", "ct": "SDTM/ADaM controlled terminology",
         "define_ct": "Define-XML controlled terminology"}

#: the columns every IG metadata frame has (packaged or sponsor file)
IG_FIELDS = ("dataset", "name", "label", "type", "core")

#: columns of a CDISC Library style export -> our names (accepted in a sponsor file)
CDISC_IG_COLUMNS = {"sdtmig": {"Dataset Name": "dataset", "Variable Name": "name", "Variable Label": "label",
                               "Type": "type", "Core": "core"},
                    "adamig": {"Data Structure Name": "dataset", "Variable Name": "name", "Variable Label": "label",
                               "Type": "type", "Core": "core"}}

CT_FILES = {"SDTM": "sdtm.tsv.gz", "ADaM": "adam.tsv"}


class UnknownStandard(ValueError):
    """A kind or version that the package does not hold."""


def versions(kind: str) -> list[str]:
    """The packaged versions of a kind of standard, sorted."""
    if kind not in KINDS:
        raise UnknownStandard(f"unknown kind of standard {kind!r} (known: {', '.join(sorted(KINDS))})")
    folder = DATA / kind
    return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def standard_folder(kind: str, version: str) -> Path:
    """``data/<kind>/<version>``; UnknownStandard naming the versions available otherwise."""
    available = versions(kind)
    if str(version) not in available:
        raise UnknownStandard(f"{KINDS[kind]} version {version!r} is not packaged with sdtmgen "
                              f"(available: {', '.join(available) or 'none'})")
    return DATA / kind / str(version)


def ctcae_path(version: str, units: str = "si") -> Path:
    path = standard_folder("ctcae", version) / f"{units}.json"
    if not path.is_file():
        raise UnknownStandard(f"CTCAE {version} criteria in {units.upper()} units are not packaged")
    return path


def provenance(kind: str, version: str) -> dict[str, dict[str, str]]:
    """PROVENANCE file name -> its fields, for one packaged standard."""
    out = {}
    for path in sorted(standard_folder(kind, version).glob("*PROVENANCE")):
        fields = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition(": ")
            fields[key] = value
        out[path.name] = fields
    return out


@lru_cache(maxsize=8)
def packaged_ig(kind: str, version: str) -> pd.DataFrame:
    """Packaged IG metadata (sdtmig or adamig): at least dataset, name, label, type, core."""
    if kind not in CDISC_IG_COLUMNS:
        raise UnknownStandard(f"{kind!r} is not an implementation guide (sdtmig, adamig)")
    frame = _read_tsv(standard_folder(kind, version) / "variables.tsv")
    if kind == "adamig":
        frame = frame.rename(columns={"structure": "dataset"})
    return frame


def read_sponsor_text(path: str | Path, what: str, shown: str | None = None) -> str:
    """A sponsor's text file (IG metadata, a codelist file) as UTF-8 text, a byte-order mark dropped; a
    SpecError naming the file (``shown``, default the path) and ``what`` it is when unreadable or not UTF-8."""
    shown = shown or str(path)
    try:
        return Path(path).read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise SpecError(f"{shown}: {what} cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise SpecError(f"{shown}: {what} is not UTF-8 text ({exc.reason})") from None


def read_ig_file(path: Path, kind: str = "sdtmig") -> pd.DataFrame:
    """A sponsor's IG metadata file: our TSV layout, or a CDISC Library style CSV export."""
    text = read_sponsor_text(path, f"{KINDS[kind]} file")
    first = text.split("\n", 1)[0]
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False,
                            sep="\t" if "\t" in first else ",")
    except (ValueError, pd.errors.ParserError) as exc:
        raise SpecError(f"{path}: {KINDS[kind]} file cannot be read as a table ({exc})") from None
    own = "dataset" if kind == "sdtmig" else "structure"
    if all(c in frame.columns for c in (own, *IG_FIELDS[1:])):
        return frame.rename(columns={"structure": "dataset"})
    columns = CDISC_IG_COLUMNS[kind]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SpecError(f"{path}: not a {KINDS[kind]} table (missing columns {missing}; expected the packaged "
                        f"layout or a CDISC Library export)")
    return frame[list(columns)].rename(columns=columns)


@lru_cache(maxsize=4)
def controlled_terminology(version: str, publishing_set: str = "SDTM") -> pd.DataFrame:
    """NCI CT of one package: code, codelist (empty on codelist rows), extensible, codelist_name, value,
    synonyms, preferred_term."""
    if publishing_set == "Define-XML":
        path = standard_folder("define_ct", version) / "define-xml.tsv"
    else:
        if publishing_set not in CT_FILES:
            raise UnknownStandard(f"unknown CT publishing set {publishing_set!r} (SDTM, ADaM, Define-XML)")
        path = standard_folder("ct", version) / CT_FILES[publishing_set]
    return _read_tsv(path)


def _read_tsv(path: Path) -> pd.DataFrame:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return pd.read_csv(io.BytesIO(data), sep="\t", dtype=str, keep_default_na=False, encoding="utf-8")
