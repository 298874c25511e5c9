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

import importlib
import inspect
from pathlib import Path
from typing import Any, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from sdtmgen.errors import RawDataError
from sdtmgen.readers.detect import FORMATS, form_name, is_dictionary, is_odm, sas_files  # noqa: F401  (public here)
from sdtmgen.registry import Registry

#: format -> "module:Class" of its reader (imported when used); the options are the class's keyword arguments
READERS: Registry[str] = Registry(
    "raw reader", key="format", title="Readers",
    where="study.yaml `raw: {format: <name>, path: ..., options: {...}}` (or `--raw PATH`, format detected)")


def register_reader(name: str, reader: str, description: str, example: str, options: dict[str, str] | None = None
                    ) -> None:
    """Make a reader available as ``raw: {format: <name>}``; ``reader`` is "module:Class" (imported when used,
    so an export format costs nothing until a study uses it), its keyword arguments are the options
    (``options``: what each one means, for the reference)."""
    READERS.add(name, reader, description, example=example,
                params=lambda: _options_model(name, reader, options or {}))


def _reader_class(reader: str) -> Any:
    module, _, attr = reader.partition(":")
    return getattr(importlib.import_module(module), attr)


def _options_model(name: str, reader: str, help: dict[str, str]) -> Optional[type[BaseModel]]:
    """The options a reader takes (its keyword arguments after the path), as a strict pydantic model."""
    if ":" not in reader:
        return create_model(f"{name}_options", __config__=ConfigDict(extra="forbid"))
    fields: dict[str, Any] = {}
    for param in list(inspect.signature(_reader_class(reader)).parameters.values())[1:]:
        annotation = param.annotation if param.annotation is not inspect.Parameter.empty else Union[str, bool]
        if isinstance(annotation, str):  # postponed annotations: the names readers use
            annotation = {"str": str, "bool": bool, "int": int}.get(annotation, Union[str, bool])
        default = param.default if param.default is not inspect.Parameter.empty else ...
        fields[param.name] = (annotation, Field(default, description=help.get(param.name)))
    return create_model(f"{name}_options", __config__=ConfigDict(extra="forbid"), **fields)


register_reader("csv", "", "one `<form>.csv` per form (header row, UTF-8); the default and the example's layout",
                "raw: {format: csv, path: ../examples/raw}")
register_reader("odm", "sdtmgen.readers.odm:OdmReader",
                "CDISC ODM 1.3.x XML ClinicalData (Snapshot or Transactional), streamed",
                "raw: {format: odm, path: ../edc/export.xml, options: {items: name, forms: name}}",
                {"items": "oid|name: columns named by ItemOID or by the ItemDef Name",
                 "forms": "oid|name: forms named by FormOID or by the FormDef Name (made plain: lower case)",
                 "decode": "replace coded values by their CodeList decodes",
                 "file": "the ODM file, when the path is a folder holding several"})
register_reader("redcap", "sdtmgen.readers.redcap:RedcapReader",
                "REDCap project export: records CSV + data dictionary (+ event.csv), given as its folder",
                "raw: {format: redcap, path: ../edc/redcap, options: {columns: label}}",
                {"decode": "replace radio, dropdown, yesno and truefalse codes by the dictionary's labels",
                 "columns": "auto|field|label: columns named by field name or by field label (auto: by label "
                            "when every label is a plain column name unique in its instrument)"})
register_reader("sas", "sdtmgen.readers.sas:SasReader",
                "SAS datasets: one `<form>.sas7bdat` or `<form>.xpt` per form (Rave-style extracts), read with pyreadstat",
                "raw: {format: sas, path: ../edc/sas, options: {dates: iso}}",
                {"dates": "text|iso: SAS dates rendered as DD MON YYYY (text) or YYYY-MM-DD (iso)",
                 "encoding": "text encoding of the SAS files' character values"})
register_reader("sdtm", "sdtmgen.readers:SdtmPackage",
                "an SDTM package (`<domain>.xpt` files) taken as delivered: ADaM from existing SDTM",
                "raw: {format: sdtm, path: ../delivered/sdtm}")

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
    """The reader of an export that is not one CSV per form (a registered format other than csv)."""
    if fmt not in READERS or not READERS[fmt]:
        raise RawDataError(f"unknown raw format {fmt!r}; known: {', '.join(READERS)}, auto", rule="raw-format")
    entry = READERS.entry(fmt)
    if entry.params is not None:
        try:
            entry.params.model_validate(options)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'options'}: {e['msg']}"
                                 for e in exc.errors())
            known = ", ".join(entry.params.model_fields) or "none"
            raise RawDataError(f"raw format {fmt}: bad options ({problems}); known options: {known}",
                               rule="raw-format") from None
    return _reader_class(entry.item)(path, **options)
