"""SAS datasets as raw forms: a folder of ``<form>.sas7bdat`` and/or ``<form>.xpt`` files, one per form.

This is how Medidata Rave and other EDC systems deliver their SAS extracts. Each file is read with
pyreadstat (the whole file, at C speed) and every column becomes text, as in a CSV form, so the specs
do not change with the export:

- character values as stored (trailing blanks are not data in SAS; edge whitespace and inner
  tabs/line breaks are normalised and reported as for a CSV form, RAW-WHITESPACE);
- a numeric with a SAS *date* format (``DATE9.``, ``YYMMDD10.``, ``E8601DA.``, ...) as ``DD MON YYYY``
  (``12 MAR 2025``, the default of the ``iso8601`` rule); with ``dates: iso``, ``YYYY-MM-DD``;
- a numeric with a *time* format (``TIME5.``, ``HHMM.``, ``E8601TM.``, ...) as ``HH:MM``, or
  ``HH:MM:SS`` when some value of the column has seconds;
- a numeric with a *datetime* format (``DATETIME20.``, ``E8601DT.``, ...) as ``YYYY-MM-DDTHH:MM``
  (``:SS`` when some value has seconds): read it with ``formats: ["YYYY-MM-DD[THH:MM[:SS]]"]``;
- any other numeric as the shortest text that reads back as the same number (``3``, ``0.32``);
- a SAS missing value (``.``, and the special missing values ``.A``-``.Z``, ``._``) as empty text,
  which is "not collected" in every form.

Variable labels and value formats (catalogs) are not used: columns are named by the variable names.
Forms are the files' names made plain (``AE.sas7bdat`` -> ``ae``); a form given both as ``.sas7bdat``
and ``.xpt`` stops the build (which one is the export?). Lineage: ``_FILE`` is the file name and
``_ROW`` the observation number (1 = the first record).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sdtmgen.errors import RawDataError
from sdtmgen.raw import RawForm
from sdtmgen.readers.common import make_form
from sdtmgen.readers.detect import SAS_SUFFIXES, form_name

#: SAS (and ISO 8601) formats whose numeric value is a count of days since 1960-01-01
DATE_FORMATS = re.compile(r"^(DATE|DDMMYY|MMDDYY|YYMMDD|YYMMN|MMYY|YYMM|MONYY|YYQ|WEEKDATE|WORDDATE|WEEKDAY|"
                          r"DOWNAME|MONNAME|MONTH|YEAR|DAY|QTR|JULIAN|JULDAY|NLDATE|MINGUO|NENGO|EURDF|"
                          r"[EB]8601DA|[EB]8601DN)", re.I)
#: ... a count of seconds since midnight
TIME_FORMATS = re.compile(r"^(TIME|HHMM|HOUR|MMSS|TOD|NLTIME|[EB]8601TM|[EB]8601LZ|[EB]8601TZ)", re.I)
#: ... a count of seconds since 1960-01-01T00:00
DATETIME_FORMATS = re.compile(r"^(DATETIME|DATEAMPM|DTDATE|DTMONYY|DTYEAR|DTWKDATX|MDYAMPM|NLDATM|"
                              r"[EB]8601DT|[EB]8601DZ)", re.I)
SAS_EPOCH = np.datetime64("1960-01-01", "s")
OPTIONS = {"dates": ("text", "iso"), "encoding": None}


def _kind(fmt: str | None) -> str:
    fmt = (fmt or "").strip()
    if DATETIME_FORMATS.match(fmt):  # before DATE: DATETIME starts like DATE
        return "datetime"
    if DATE_FORMATS.match(fmt):
        return "date"
    if TIME_FORMATS.match(fmt):
        return "time"
    return "number"


def _seconds_text(seconds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(HH:MM or HH:MM:SS for every value, whether some value has seconds); NaN -> empty text."""
    whole = np.where(np.isnan(seconds), 0, np.floor(seconds)).astype(np.int64) % 86400
    hours, minutes, secs = whole // 3600, whole // 60 % 60, whole % 60
    with_seconds = bool((secs[~np.isnan(seconds)] != 0).any())
    hh = np.char.zfill(hours.astype(str), 2)
    mm = np.char.zfill(minutes.astype(str), 2)
    text = np.char.add(np.char.add(hh, ":"), mm)
    if with_seconds:
        text = np.char.add(np.char.add(text, ":"), np.char.zfill(secs.astype(str), 2))
    return np.where(np.isnan(seconds), "", text).astype(object), np.asarray(with_seconds)


def render_numeric(values: np.ndarray, fmt: str | None, dates: str = "text") -> np.ndarray:
    """A SAS numeric column as text, vectorised (see the module's docstring); missing -> ''."""
    values = np.asarray(values, dtype="float64")
    missing = np.isnan(values)
    kind = _kind(fmt)
    if kind == "number":
        text = pa.array(values, from_pandas=True).cast(pa.string())
        text = pc.replace_substring_regex(text, r"^-0$", "0")
        return np.where(missing, "", text.fill_null("").to_numpy(zero_copy_only=False)).astype(object)
    if kind == "time":
        return _seconds_text(values)[0]
    days = np.where(missing, 0, np.floor(values / 86400 if kind == "datetime" else values)).astype(np.int64)
    distinct, inverse = np.unique(days, return_inverse=True)  # a study has few distinct dates: format those
    series = pd.Series((SAS_EPOCH + distinct.astype("timedelta64[D]")).astype("datetime64[D]"))
    if kind == "date" and dates == "text":
        text = series.dt.strftime("%d %b %Y").str.upper().to_numpy(dtype=object)[inverse]
    else:
        text = series.dt.strftime("%Y-%m-%d").to_numpy(dtype=object)[inverse]
    if kind == "datetime":
        clock, _ = _seconds_text(np.where(missing, np.nan, values - days * 86400.0))
        text = np.char.add(np.char.add(text.astype(str), "T"), clock.astype(str)).astype(object)
    return np.where(missing, "", text).astype(object)


class SasReader:
    """The forms of a folder of SAS datasets (``.sas7bdat``, ``.xpt``)."""

    def __init__(self, path: Path, dates: str = "text", encoding: str | None = None):
        folder = Path(path)
        if not folder.is_dir():
            raise RawDataError(f"{folder}: SAS datasets are given as their folder (one .sas7bdat or .xpt file "
                               f"per form)", rule="raw-format")
        if dates not in OPTIONS["dates"]:
            raise RawDataError(f"sas reader: option dates is 'text' or 'iso', got {dates!r}", rule="raw-format")
        self.folder, self.dates, self.encoding = folder, dates, encoding
        self.notes: list = []
        self._files: dict[str, Path] = {}
        for file in sorted(p for p in folder.iterdir() if p.suffix.lower() in SAS_SUFFIXES):
            form = form_name(file.stem)
            if form in self._files:
                raise RawDataError(f"{folder}: form {form} is given twice ({self._files[form].name} and {file.name}); "
                                   f"keep one file per form", file=file.name, rule="raw-format")
            self._files[form] = file

    def forms(self) -> list[str]:
        return list(self._files)

    def file_name(self, form: str) -> str:
        file = self._files.get(form)
        return file.name if file is not None else f"{form}.sas7bdat"

    def read(self, form: str) -> RawForm:
        import pyreadstat

        file = self._files.get(form)
        if file is None:
            raise RawDataError(f"raw form '{form}' not found: expected {form}.sas7bdat or {form}.xpt in {self.folder}"
                               f" (forms there: {', '.join(self._files) or 'none'})\n"
                               f"  what to do: export the form, or point --raw at the export folder",
                               file=f"{form}.sas7bdat", rule="raw-form")
        if file.resolve().parent != self.folder.resolve():
            raise RawDataError(f"{file}: links outside the raw folder {self.folder}; raw forms are read only from "
                               f"the raw folder", file=file.name, rule="raw-form")
        read = pyreadstat.read_xport if file.suffix.lower() == ".xpt" else pyreadstat.read_sas7bdat
        kwargs = {"disable_datetime_conversion": True}
        if self.encoding:
            kwargs["encoding"] = self.encoding
        try:
            frame, meta = read(str(file), **kwargs)
        except Exception as exc:  # pyreadstat's errors (ReadstatError, PyreadstatError, UnicodeError...)
            kind = "SAS transport (XPORT) file" if read is pyreadstat.read_xport else "SAS dataset (sas7bdat)"
            raise RawDataError(f"{file.name}: not a readable {kind} ({type(exc).__name__}: {exc})\n"
                               f"  what to do: export the form again (as .sas7bdat or .xpt)",
                               file=file.name, rule="raw-form") from None
        formats = meta.original_variable_types or {}
        columns: dict[str, list] = {}
        for name in frame.columns:
            values = frame[name]
            if values.dtype == object:  # character: None (no value) -> ''
                text = values.where(values.notna(), "").astype(str).to_numpy(dtype=object)
            else:
                text = render_numeric(values.to_numpy(dtype="float64", na_value=np.nan), formats.get(name), self.dates)
            columns[str(name).strip()] = text
        lines = np.arange(1, len(frame) + 1, dtype=np.int64)
        return make_form(columns, lines, file.name)
