"""Reading a raw EDC export: one CSV per form, every value kept as text."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sdtmgen.errors import RawDataError


@dataclass
class RawExport:
    """The forms of one export, read lazily, each read once."""

    folder: Path
    forms: dict[str, pd.DataFrame] = field(default_factory=dict)

    def file_name(self, form: str) -> str:
        return f"{form}.csv"

    def read(self, form: str) -> pd.DataFrame:
        if form in self.forms:
            return self.forms[form]
        path = self.folder / self.file_name(form)
        if not path.is_file():
            raise RawDataError(f"raw form '{form}' not found: expected {path}\n"
                               f"  what to do: export the form, or point --raw at the export folder")
        try:
            frame = pd.read_csv(path, dtype="string[pyarrow]", keep_default_na=False, na_filter=False, encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise RawDataError(f"{path}: not UTF-8 (byte {exc.start}); re-export the form as UTF-8") from None
        except pd.errors.EmptyDataError:
            raise RawDataError(f"{path}: the file is empty (not even a header row)") from None
        except pd.errors.ParserError as exc:
            raise RawDataError(f"{path}: not a well-formed CSV: {exc}") from None
        frame.columns = [c.strip() for c in frame.columns]
        frame["_FILE"] = self.file_name(form)
        frame["_ROW"] = pd.RangeIndex(2, len(frame) + 2).to_numpy()  # line number in the file
        self.forms[form] = frame
        return frame

    def require_columns(self, form: str, columns: set[str], used_by: str) -> None:
        frame = self.read(form)
        missing = sorted(c for c in columns if c not in frame.columns)
        if missing:
            raise RawDataError(
                f"{self.folder / self.file_name(form)}: missing column(s) {', '.join(missing)} needed by {used_by}\n"
                f"  columns present: {', '.join(c for c in frame.columns if not c.startswith('_'))}")
