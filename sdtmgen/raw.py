"""Reading a raw EDC export: one CSV per form, every value kept as text.

Forms are parsed by Arrow's CSV reader straight into Arrow-backed strings, several times
cheaper than pandas' parser plus a conversion per cell. A file Arrow rejects, or would read
differently from pandas (blank or repeated header names, ragged rows, bad UTF-8, an empty file),
is read by pandas instead, so every file gives pandas' values and pandas' error messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
from pyarrow import csv as pacsv

from sdtmgen.errors import RawDataError


def _read_with_arrow(path: Path) -> pd.DataFrame | None:
    """Every column as text, empty cells as ''; None when pandas must decide how to read the file."""
    data = path.read_bytes()
    if b"\x00" in data or (b"\r" in data and data.count(b"\r") != data.count(b"\r\n")):
        return None  # pandas ends a value at a NUL byte, and reads lines ended by a lone CR its own way
    try:
        with pacsv.open_csv(pa.BufferReader(data), read_options=pacsv.ReadOptions(use_threads=False)) as reader:
            names = reader.schema.names  # the header, parsed by the same reader
        if len(names) < 2 or "" in names or len(set(names)) != len(names):
            return None  # pandas skips blank-looking lines of one-column files, renames 'Unnamed: i', 'X.1'
        table = pacsv.read_csv(
            pa.BufferReader(data), read_options=pacsv.ReadOptions(use_threads=False),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.large_string()), null_values=[],
                strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowException, UnicodeDecodeError):
        return None
    last = table.column(len(names) - 1)[-1].as_py() if table.num_rows else names[-1]
    if data.endswith(('"' + last.replace('"', '""')).encode("utf-8")):
        return None  # the file may end inside a quoted value, which Arrow accepts and pandas rejects
    return pd.DataFrame({name: pd.arrays.ArrowStringArray(table.column(i)) for i, name in enumerate(names)})


def _read_with_pandas(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype="string[pyarrow]", keep_default_na=False, na_filter=False,
                           encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise RawDataError(f"{path}: not UTF-8 (byte {exc.start}); re-export the form as UTF-8") from None
    except pd.errors.EmptyDataError:
        raise RawDataError(f"{path}: the file is empty (not even a header row)") from None
    except pd.errors.ParserError as exc:
        raise RawDataError(f"{path}: not a well-formed CSV: {exc}") from None


def read_form_csv(path: Path) -> pd.DataFrame:
    """One raw form as Arrow-backed strings, header names trimmed."""
    frame = _read_with_arrow(path)
    if frame is None:
        frame = _read_with_pandas(path)
    frame.columns = [c.strip() for c in frame.columns]
    return frame


@dataclass
class RawExport:
    """The forms of one export, read lazily; a form's rows stay in memory until released."""

    folder: Path
    forms: dict[str, int] = field(default_factory=dict)  # every form read so far -> its number of rows
    _frames: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    def file_name(self, form: str) -> str:
        return f"{form}.csv"

    def read(self, form: str) -> pd.DataFrame:
        if form in self._frames:
            return self._frames[form]
        path = self.folder / self.file_name(form)
        if not path.is_file():
            raise RawDataError(f"raw form '{form}' not found: expected {path}\n"
                               f"  what to do: export the form, or point --raw at the export folder",
                               file=self.file_name(form), rule="raw-form")
        try:
            frame = read_form_csv(path)
        except RawDataError as exc:  # named by its form, so the build reports it beside the others
            exc.file, exc.rule = self.file_name(form), "raw-form"
            raise
        frame["_FILE"] = self.file_name(form)
        frame["_ROW"] = pd.RangeIndex(2, len(frame) + 2).to_numpy()  # line number in the file
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
                f"  columns present: {', '.join(c for c in frame.columns if not c.startswith('_'))}",
                file=self.file_name(form), rule="raw-columns")
