"""One call per package folder (sdtm/, adam/): define.xml, define.html, the stylesheet, the consistency check.

``write_define_package`` runs after the dataset files are written, so the lengths it documents
are the ones in the files: read back from the XPT headers, or (Dataset-JSON only) computed with
the XPT writer's rule. The define is then read back, checked against the files (``check_define``)
and rendered from that same tree as ``define.html`` (:mod:`.html`), the readable form that needs
no XSLT. A stylesheet named in study.yaml (``standards.define_stylesheet``, a file in the spec
folder, e.g. CDISC's define2-1.xsl) is copied next to define.xml and referenced by an
``xml-stylesheet`` processing instruction; when none is named, define.xml has no instruction and
nothing is reported (define.html is there to read).
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from lxml import etree

from sdtmgen.errors import Finding
from sdtmgen.xpt import read_xpt_columns

from .checks import ReadAhead, check_define, columns_to_check, observe_folder
from .html import write_define_html
from .writer import write_define

STYLESHEET_NAME = "define2-1.xsl"
HTML_NAME = "define.html"
DATA_EXTENSIONS = ("xpt", "json", "ndjson")


def stylesheet_source(spec: Any) -> tuple[Path | None, list[Finding]]:
    """The stylesheet named in study.yaml (``standards.define_stylesheet``, optional), confined to the spec folder.

    Not named: None, and nothing to report (define.xml is complete without one). Named but not a
    readable file inside the spec folder: a SpecError naming study.yaml and the key."""
    standards = getattr(spec.study, "standards", None)
    if not getattr(standards, "define_stylesheet", None):
        return None, []
    from sdtmgen.standards.study import define_stylesheet

    return define_stylesheet(Path(spec.folder), standards), []


def report_config(spec: Any) -> Any:
    """The study's report.yaml (None without one): the ADaM define describes its results (ARM 1.0)."""
    return getattr(spec, "report", None)


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
    """Write ``folder/define.xml`` and ``folder/define.html`` (+ the stylesheet when one is named) for the
    datasets written in ``folder``; check define.xml against the files.

    Returns warnings (named stylesheet missing, derived variables without method text) and any
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
    with ReadAhead(folder) as ahead:  # the XPT columns the check reads, read while define.xml is built
        findings += write_define(folder / "define.xml", study=spec.study, terminology=spec.terminology,
                                 datasets=datasets, specs=specs, standard=standard, lengths=lengths,
                                 stylesheet_href=href, data_ext=data_extension(folder), created=created,
                                 results=report_config(spec) if standard.upper().startswith("ADAM") else None,
                                 described=lambda name, elements: ahead.start(name, columns_to_check(elements)))
        tree = etree.parse(str(folder / "define.xml"))
        write_define_html(folder / HTML_NAME, tree, {name: len(frame) for name, frame in datasets.items()})
        formats = [ext for ext in DATA_EXTENSIONS if any(folder.glob(f"*.{ext}"))]
        for i, ext in enumerate(formats):  # the leaves point at the first format; every format is checked
            findings += check_define(tree, observe_folder(folder, ext, ahead), spec.terminology,
                                     folder if i == 0 else None)
    return findings
