"""One call per package folder (sdtm/, adam/): define.xml, its stylesheet, and the consistency check.

``write_define_package`` runs after the dataset files are written, so the lengths it documents
are the ones in the files: read back from the XPT headers, or (Dataset-JSON only) computed with
the XPT writer's rule. CDISC's define2-1.xsl, named in study.yaml (``standards.define_stylesheet``),
is copied next to define.xml and referenced by an ``xml-stylesheet`` processing instruction, so a
browser shows the define as HTML; without it define.xml is written all the same and a warning says
so. The define is then read back and checked against the files (``check_define``).
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from lxml import etree

from sdtmgen.errors import Finding, SdtmgenError
from sdtmgen.spec.paths import allowed_roots, resolve_spec_path
from sdtmgen.xpt import read_xpt_columns

from .checks import check_define, observe_folder
from .writer import write_define

STYLESHEET_NAME = "define2-1.xsl"
DATA_EXTENSIONS = ("xpt", "json", "ndjson")


def stylesheet_source(spec: Any) -> tuple[Path | None, list[Finding]]:
    """The stylesheet file named in study.yaml, or None and a warning."""
    relative = getattr(getattr(spec.study, "standards", None), "define_stylesheet", None)
    if not relative:
        return None, [Finding(rule="DEFINE-STYLESHEET", severity="warning", dataset="*",
                              message="standards.define_stylesheet is not set: define.xml is written without "
                                      "a stylesheet (a browser shows raw XML)")]
    folder = Path(spec.folder)
    try:
        path = resolve_spec_path(folder, relative, allowed_roots(folder, None, getattr(spec.study, "reference", None)),
                                 "standards.define_stylesheet")
    except SdtmgenError as exc:
        return None, [Finding(rule="DEFINE-STYLESHEET", severity="warning", dataset="*", message=str(exc))]
    if not path.is_file():
        return None, [Finding(rule="DEFINE-STYLESHEET", severity="warning", dataset="*",
                              message=f"define stylesheet not found ({path}): define.xml is written without it")]
    return path, []


def xpt_lengths(folder: Path) -> dict[tuple[str, str], int]:
    """(dataset, variable) -> length, as stored in the XPT files of ``folder``."""
    lengths = {}
    for path in sorted(Path(folder).glob("*.xpt")):
        _, meta = read_xpt_columns(path, metadata_only=True)
        for name, width in meta.lengths.items():
            lengths[(meta.table_name, name)] = int(width)
    return lengths


def data_extension(folder: Path) -> str:
    for ext in DATA_EXTENSIONS:
        if any(Path(folder).glob(f"*.{ext}")):
            return ext
    return "xpt"


def write_define_package(folder: str | Path, spec: Any, datasets: dict[str, pd.DataFrame], specs: dict[str, Any],
                         lengths: dict[tuple[str, str], int] | None = None, standard: str = "SDTMIG",
                         created: datetime | None = None) -> list[Finding]:
    """Write ``folder/define.xml`` (+ stylesheet) for the datasets written in ``folder``; check it.

    Returns warnings (missing stylesheet, derived variables without method text) and any
    DEFINE-* errors where the written define.xml disagrees with the dataset files.
    """
    folder = Path(folder)
    findings: list[Finding] = []
    source, notes = stylesheet_source(spec)
    findings += notes
    href = None
    if source is not None:
        shutil.copyfile(source, folder / STYLESHEET_NAME)
        href = STYLESHEET_NAME
    if lengths is None:
        lengths = xpt_lengths(folder)
    findings += write_define(folder / "define.xml", study=spec.study, terminology=spec.terminology,
                             datasets=datasets, specs=specs, standard=standard, lengths=lengths,
                             stylesheet_href=href, data_ext=data_extension(folder), created=created)
    tree = etree.parse(str(folder / "define.xml"))
    formats = [ext for ext in DATA_EXTENSIONS if any(folder.glob(f"*.{ext}"))]
    for i, ext in enumerate(formats):  # the leaves point at the first format; every format is checked
        findings += check_define(tree, observe_folder(folder, ext), spec.terminology, folder if i == 0 else None)
    return findings
