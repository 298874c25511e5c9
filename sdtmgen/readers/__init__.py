"""Readers of raw EDC exports: each turns an export into the same internal forms.

A form is a table of text columns (``RawForm``: frame, physical line of each row, notes), named by
a plain lower-case form name, whatever the export: the specs do not change with the export format.

- ``csv``: one ``<form>.csv`` per form (sdtmgen.raw.read_form);
- ``odm``: a CDISC ODM 1.3.x XML file (ClinicalData), see sdtmgen.readers.odm;
- ``redcap``: a REDCap records CSV + data dictionary, see sdtmgen.readers.redcap;
- ``sas``: one ``<form>.sas7bdat`` or ``<form>.xpt`` per form, see sdtmgen.readers.sas;
- ``sdtm``: an SDTM package (``<domain>.xpt``): every domain of the spec with a file there is taken as
  delivered (sdtmgen.readers.sdtm_source), for a build of ADaM from existing SDTM; no raw forms.

``detect`` chooses the format from a path (a folder or a file) for ``format: auto``.
"""

from __future__ import annotations

from pathlib import Path

from sdtmgen.errors import RawDataError
from sdtmgen.readers.detect import FORMATS, form_name, is_dictionary, is_odm, sas_files  # noqa: F401  (public here)

def detect(path: Path) -> str:
    """The format of the export at ``path``: a REDCap dictionary beside records -> redcap; ``*.csv``
    forms -> csv; SAS datasets (``*.sas7bdat``, ``*.xpt``) and no CSV -> sas; an ODM XML file -> odm."""
    if path.is_file():
        if is_odm(path):
            return "odm"
        raise RawDataError(f"{path}: not a raw export sdtmgen can detect (a file must be a CDISC ODM XML file; "
                           f"CSV forms and REDCap exports are given as their folder)", rule="raw-format")
    if not path.is_dir():
        return "csv"  # the CSV reader reports the missing folder form by form, as before
    csvs = sorted(path.glob("*.csv"))
    if any(is_dictionary(p) for p in csvs) and len(csvs) > 1:
        return "redcap"
    if csvs:
        return "csv"
    if sas_files(path):
        from sdtmgen.readers.detect import is_sdtm_package
        return "sdtm" if is_sdtm_package(path) else "sas"
    odms = [p for p in sorted(path.glob("*.xml")) if is_odm(p)]
    if len(odms) == 1:
        return "odm"
    if len(odms) > 1:
        raise RawDataError(f"{path}: {len(odms)} ODM files ({', '.join(p.name for p in odms)}); give the file "
                           f"with --raw or raw: {{format: odm, path: ...}}", rule="raw-format")
    return "csv"


class SdtmPackage:
    """The "raw export" of a build from an SDTM package: it has no raw forms (the build takes each
    domain from the package's ``<domain>.xpt``; a domain with none cannot be mapped from raw forms)."""

    def __init__(self, path: Path):
        if not Path(path).is_dir():
            raise RawDataError(f"{path}: an SDTM package is given as its folder of <domain>.xpt files",
                               rule="raw-format")
        self.folder, self.notes = Path(path), []

    def forms(self) -> list[str]:
        return []

    def file_name(self, form: str) -> str:
        return f"{form}.csv"

    def read(self, form: str):
        raise RawDataError(f"raw form '{form}' is needed, but the raw export {self.folder} is an SDTM package "
                           f"(format sdtm) without raw forms\n  what to do: deliver the domain as "
                           f"<domain>.xpt in the package", file=form, rule="raw-form")


def open_reader(path: Path, fmt: str, options: dict):
    """The reader of an export that is not one CSV per form (``fmt`` odm, redcap or sas)."""
    if fmt == "odm":
        from sdtmgen.readers.odm import OdmReader
        return OdmReader(path, **options)
    if fmt == "redcap":
        from sdtmgen.readers.redcap import RedcapReader
        return RedcapReader(path, **options)
    if fmt == "sdtm":
        return SdtmPackage(path)
    if fmt == "sas":
        from sdtmgen.readers.sas import SasReader
        return SasReader(path, **options)
    raise RawDataError(f"unknown raw format {fmt!r}; known: {', '.join(FORMATS)}, auto", rule="raw-format")
