"""An export's forms as the mapping reads them: CSV form files, or the forms of an EDC export (ODM,
REDCap, SAS datasets, delivered SDTM) read by the reader study.yaml names or the folder's contents show.

Every form, whatever its reader, arrives as the same frame of text columns with the file and line of
each row (``_FILE``, ``_ROW``), read once and kept until released.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sdtmgen.errors import Finding, RawDataError
from sdtmgen.raw import RFC4180, CsvDialect, RawForm, read_form
from sdtmgen.readers import detect, open_reader
from sdtmgen.readers.detect import READER_OPTIONS


_FORM_NAME = re.compile(r"[a-z][a-z0-9_]*")  # as the spec's form names (spec.models.FORM)


def _confined(form: str, path: Path, folder: Path) -> None:
    """A form is a plain file name read only from the raw folder (the spec is untrusted input)."""
    if not _FORM_NAME.fullmatch(form):
        raise RawDataError(f"raw form name {form!r} is not a plain form name (lower-case letters, digits, _); "
                           f"forms are read only from the raw folder {folder}")
    if path.exists() and path.resolve().parent != folder.resolve():
        raise RawDataError(f"{path}: links outside the raw folder {folder} (to {path.resolve()}); "
                           f"raw forms are read only from the raw folder")


@dataclass
class RawExport:
    """The forms of one export, read lazily; a form's rows stay in memory until released.

    ``notes`` collects the normalisations reported while reading (RAW-WHITESPACE), each once.
    """

    folder: Path
    source: object = None  # spec.models.RawSource (format, options) or None: format detected
    forms: dict[str, int] = field(default_factory=dict)  # every form read so far -> its number of rows
    notes: list[Finding] = field(default_factory=list)
    _frames: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    _reader: object = field(default=None, repr=False)  # the reader of an export other than CSV forms

    _dialect: CsvDialect = field(default=RFC4180, repr=False)
    #: callables ``(file name, frame)`` run on each form when first read (sdtm.subject_level compares values)
    on_read: list = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        fmt = getattr(self.source, "format", "auto")
        options = dict(getattr(self.source, "options", None) or {})
        if fmt == "auto":
            fmt = detect(Path(self.folder))
            foreign = sorted(k for k in options if k not in READER_OPTIONS.get(fmt, {}))
            if foreign:
                raise RawDataError(f"{self.folder}: detected as a {fmt} export, but study.yaml gives option(s) "
                                   f"{', '.join(foreign)} that the {fmt} reader does not take\n"
                                   f"  what to do: name the format (raw: {{format: ...}}) or remove the option(s)",
                                   rule="raw-format")
        if fmt != "csv":
            self._reader = open_reader(Path(self.folder), fmt, options)
        else:
            self._dialect = CsvDialect.from_options(options)

    def file_name(self, form: str) -> str:
        return self._reader.file_name(form) if self._reader is not None else f"{form}.csv"

    def reader_forms(self) -> list[str] | None:
        """The forms of an EDC export read by a reader (ODM, REDCap); None for CSV forms."""
        return None if self._reader is None else list(self._reader.forms())

    def unread(self) -> list[str]:
        """Forms of the export that no source read (files for CSV forms: ``.csv`` in any case), named for
        display: a control or invisible character in a file name is written as an escape (``\\x1b``), so it
        cannot break a message, a terminal or the XML and HTML reports."""
        if self._reader is None:
            names = sorted(p.name for p in Path(self.folder).iterdir()
                           if p.suffix.lower() == ".csv" and not (p.suffix == ".csv" and p.stem in self.forms))
        else:
            names = [f for f in self._reader.forms() if f not in self.forms]
        return [name if name.isprintable() else repr(name)[1:-1] for name in names]

    def _read_other(self, form: str) -> RawForm:
        try:
            read = self._reader.read(form)
        except RawDataError as exc:
            exc.file, exc.rule = exc.file or self.file_name(form), exc.rule or "raw-form"
            raise
        if not self.forms and not self._frames:
            self.notes += getattr(self._reader, "notes", [])
        return read

    def read(self, form: str) -> pd.DataFrame:
        if form in self._frames:
            return self._frames[form]
        if self._reader is not None:
            return self._keep(form, self._read_other(form))
        path = self.folder / self.file_name(form)
        try:
            _confined(form, path, self.folder)
        except RawDataError as exc:
            exc.file, exc.rule = self.file_name(form), "raw-form"
            raise
        if path.is_dir():
            raise RawDataError(f"raw form '{form}': {path} is a folder, not a file\n"
                               f"  what to do: export the form as a file, or point --raw at the export folder",
                               file=self.file_name(form), rule="raw-form")
        if not path.is_file():
            raise RawDataError(f"raw form '{form}' not found: expected {path}\n"
                               f"  what to do: export the form, or point --raw at the export folder",
                               file=self.file_name(form), rule="raw-form")
        try:
            read = read_form(path, self.file_name(form), self._dialect)
        except RawDataError as exc:  # named by its form, so the build reports it beside the others
            exc.file, exc.rule = self.file_name(form), "raw-form"
            raise
        return self._keep(form, read)

    def _keep(self, form: str, read: RawForm) -> pd.DataFrame:
        frame = read.frame
        frame["_FILE"] = self.file_name(form)
        frame["_ROW"] = read.lines  # physical line of the row's first line in the file (header = 1)
        if form not in self.forms:
            self.notes += read.notes
            for observe in self.on_read:
                observe(self.file_name(form), frame)
        self._frames[form] = frame
        self.forms[form] = len(frame)
        return frame

    def release(self, form: str) -> None:
        """Free the form's rows once nothing reads them again (a later read reads the file again)."""
        self._frames.pop(form, None)

    def require_columns(self, form: str, columns: set[str], used_by: str) -> None:
        frame = self.read(form)
        missing = sorted(c for c in columns if c not in frame.columns)
        if missing:
            raise RawDataError(
                f"{self.folder / self.file_name(form)}: missing column(s) {', '.join(missing)} needed by {used_by}\n"
                f"  columns present in the header (line 1): "
                f"{', '.join(c for c in frame.columns if not c.startswith('_'))}",
                file=self.file_name(form), rule="raw-columns")
