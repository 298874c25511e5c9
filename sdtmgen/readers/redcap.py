"""REDCap project exports (records CSV + data dictionary) as raw forms, one per instrument.

The folder holds the data dictionary (a CSV whose header starts ``Variable / Field Name``, or the
API's ``field_name``), the records CSV (raw codes; its first column is the record id field) and,
for a longitudinal project, optionally ``event.csv`` (event labels). Each instrument (``Form Name``)
is a raw form whose rows are the record rows (record x event x repeat instance) holding a non-empty
value of one of its fields; its columns are

- ``SUBJECT`` (the record id), ``VISIT`` (the event's label from event.csv, else the unique event
  name; empty in a classic project), ``RECORDPOSITION`` (``redcap_repeat_instance``, empty when
  the row does not repeat), ``ARM`` (the event's arm: its name from arm.csv through event.csv's
  ``arm_num``, else the arm number, else the ``_arm_<n>`` suffix of the unique event name; empty in
  a classic project);
- the instrument's fields in dictionary order; a checkbox field is its ``<field>___<code>`` columns
  (0/1, as exported). ``<form>_complete`` and ``redcap_*`` columns are not data.

With ``columns: label`` the fields' labels name the columns instead of the field names (REDCap field
names are unique in a project and lower-case; labels can repeat a CSV form's column names). The
default, ``columns: auto``, takes the labels when every field's label is a column name (upper-case
letters, digits and ``_``, e.g. ``AETERM``) unique within its instrument, as in a project built to
carry CSV forms (``sdtmgen simulate --format redcap``), and the field names otherwise (labels that
are questions, such as ``Date of birth``).
With ``decode: true`` (the default) radio, dropdown, yesno and truefalse codes are replaced by the
dictionary's labels (``0, Female | 1, Male``); a code the dictionary does not list stops the build
with the file, line, field and value. Lineage: ``_FILE`` is the records file, ``_ROW`` its line.
The records file goes through the CSV reader, so its structure and cells are checked the same way.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from sdtmgen.errors import RawDataError
from sdtmgen.raw import RawForm, _header, read_form

FIXED = ("SUBJECT", "VISIT", "RECORDPOSITION", "ARM")
CODED = {"radio", "dropdown", "yesno", "truefalse"}
BUILT_IN = {"yesno": {"1": "Yes", "0": "No"}, "truefalse": {"1": "True", "0": "False"}}
#: dictionary columns by their CSV-download and API names
_NAMES = {"field": ("variable / field name", "field_name"), "form": ("form name", "form_name"),
          "type": ("field type", "field_type"),
          "choices": ("choices, calculations, or slider labels", "select_choices_or_calculations"),
          "label": ("field label", "field_label")}


def _choices(text: str) -> dict[str, str]:
    pairs = {}
    for part in text.split("|"):
        code, _, label = part.partition(",")
        if code.strip():
            pairs[code.strip()] = label.strip()
    return pairs


def _first_column(path: Path) -> str:
    """The first header name of a CSV file (read from its first bytes only)."""
    with path.open("rb") as handle:
        head = handle.read(1 << 16).lstrip(b"\xef\xbb\xbf")
    names = _header(head.splitlines()[0] if head else b"", path.name) if head.strip() else []
    return names[0] if names else ""


class RedcapReader:
    def __init__(self, path: Path, decode: bool = True, columns: str = "auto"):
        from sdtmgen.readers.detect import is_dictionary
        folder = Path(path)
        if not folder.is_dir():
            raise RawDataError(f"{folder}: a REDCap export is given as its folder (data dictionary + records CSV)",
                               rule="raw-format")
        dictionaries = [p for p in sorted(folder.glob("*.csv")) if is_dictionary(p)]
        if len(dictionaries) != 1:
            raise RawDataError(f"{folder}: expected one REDCap data dictionary, found {len(dictionaries)}",
                               rule="raw-format")
        if columns not in ("auto", "field", "label"):
            raise RawDataError("redcap reader: columns is 'auto', 'field' or 'label'", rule="raw-format")
        self.folder, self.decode, self.dictionary_path = folder, decode, dictionaries[0]
        self._dictionary = self._read_dictionary(dictionaries[0])
        record_id = self._dictionary["field"].iloc[0]
        self.by_label = columns == "label" or (columns == "auto" and self._labels_are_columns(record_id))
        candidates = [p for p in sorted(folder.glob("*.csv"))
                      if p not in dictionaries and p.name not in ("event.csv", "arm.csv")
                      and _first_column(p) == record_id]
        if len(candidates) != 1:
            raise RawDataError(f"{folder}: expected one records CSV whose first column is the record id field "
                               f"{record_id}, found {len(candidates)}", rule="raw-format")
        self.records_path, self.record_id = candidates[0], record_id
        self.notes: list = []
        self._records: RawForm | None = None

    def _read_dictionary(self, path: Path) -> pd.DataFrame:
        frame = read_form(path).frame
        lower = {c.lower(): c for c in frame.columns}
        picked = {}
        for key, names in _NAMES.items():
            found = next((lower[n] for n in names if n in lower), None)
            if found is None:
                raise RawDataError(f"{path.name} line 1: the data dictionary has no column {names[0]!r}",
                                   file=path.name, rule="raw-format")
            picked[key] = frame[found].astype(str)
        out = pd.DataFrame(picked)
        out["line"] = np.arange(2, len(out) + 2)
        return out

    def _labels_are_columns(self, record_id: str) -> bool:
        """Whether every field's label (record id aside) is a column name, unique within its instrument."""
        fields = self._dictionary[self._dictionary["field"] != record_id]
        labels = fields["label"].str.strip()
        return bool(len(fields)) and bool(labels.str.fullmatch(r"[A-Z][A-Z0-9_]*").all()) \
            and not fields.assign(label=labels).duplicated(["form", "label"]).any()

    def file_name(self, form: str) -> str:
        return self.records_path.name

    def forms(self) -> list[str]:
        from sdtmgen.readers.detect import form_name
        return [form_name(f) for f in dict.fromkeys(self._dictionary["form"])]

    def _load(self) -> RawForm:
        if self._records is None:
            self._records = read_form(self.records_path)
            self.notes += self._records.notes
        return self._records

    @cached_property
    def _event_labels(self) -> dict[str, str]:
        """unique_event_name -> event label, from event.csv (read once per export)."""
        path = self.folder / "event.csv"
        if not path.is_file():
            return {}
        events = read_form(path).frame
        if not {"unique_event_name", "event_name"} <= set(events.columns):
            return {}
        return dict(zip(events["unique_event_name"], events["event_name"]))

    @cached_property
    def _event_arms(self) -> dict[str, str]:
        """Each unique event name of the records -> its arm's name (arm.csv), else number (event.csv,
        else the name's ``_arm_<n>`` suffix REDCap gives every event of a longitudinal project)."""
        data = self._load().frame
        if "redcap_event_name" not in data.columns:
            return {}
        events = pd.Series(data["redcap_event_name"].unique(), dtype=object)
        numbers = events.str.extract(r"_arm_(\d+)$", expand=False)
        path = self.folder / "event.csv"
        if path.is_file():
            table = read_form(path).frame
            if {"unique_event_name", "arm_num"} <= set(table.columns):
                numbers = events.map(dict(zip(table["unique_event_name"], table["arm_num"]))).fillna(numbers)
        path = self.folder / "arm.csv"
        if path.is_file():
            table = read_form(path).frame
            if {"arm_num", "name"} <= set(table.columns):
                numbers = numbers.map(dict(zip(table["arm_num"], table["name"]))).fillna(numbers)
        return dict(zip(events, numbers.fillna("")))

    def columns_of(self, form: str) -> list[str]:
        """The records columns holding the instrument's fields (checkboxes expanded), record id excluded."""
        from sdtmgen.readers.detect import form_name
        data = self._load().frame
        fields = self._dictionary[[form_name(f) == form for f in self._dictionary["form"]]]
        columns = []
        for field, kind in zip(fields["field"], fields["type"]):
            if field == self.record_id:
                continue
            if kind == "checkbox":
                columns += [c for c in data.columns if c.startswith(f"{field}___")]
            elif field in data.columns:
                columns.append(field)
        return columns

    def read(self, form: str) -> RawForm:
        if form not in self.forms():
            raise RawDataError(f"raw form '{form}' is no instrument of the REDCap data dictionary "
                               f"{self.dictionary_path.name}; its instruments: {', '.join(self.forms())}",
                               file=self.records_path.name, rule="raw-form")
        records = self._load()
        data = records.frame
        columns = self.columns_of(form)
        clash = [c for c in columns if c in FIXED]
        if clash:
            raise RawDataError(f"{self.records_path.name} line 1: field {clash[0]} is named as a column the "
                               f"reader provides ({', '.join(FIXED)})", file=self.records_path.name)
        filled = np.zeros(len(data), dtype=bool)
        for column in columns:
            filled |= (data[column] != "").to_numpy()
        if "redcap_repeat_instrument" in data.columns:
            instrument = data["redcap_repeat_instrument"].to_numpy()
            filled &= (instrument == "") | (instrument == form)
        keep = [c for c in (self.record_id, "redcap_event_name", "redcap_repeat_instance") if c in data.columns]
        rows = data.loc[filled, keep + columns]
        out = {"SUBJECT": rows[self.record_id].to_numpy()}
        events = rows["redcap_event_name"] if "redcap_event_name" in rows else pd.Series([""] * len(rows))
        # each event name to its label (names without one kept), as a dictionary look-up over the column
        out["VISIT"] = (events.map(self._event_labels).fillna(events).to_numpy() if len(rows)
                        else np.array([], dtype=object))
        out["RECORDPOSITION"] = (rows["redcap_repeat_instance"].to_numpy() if "redcap_repeat_instance" in rows
                                 else np.full(len(rows), "", dtype=object))
        out["ARM"] = (events.map(self._event_arms).to_numpy() if "redcap_event_name" in rows and len(rows)
                      else np.full(len(rows), "", dtype=object))
        lines = records.lines[filled]
        kinds = dict(zip(self._dictionary["field"], self._dictionary["type"]))
        choices = dict(zip(self._dictionary["field"], self._dictionary["choices"]))
        for column in columns:
            values = rows[column]
            kind = kinds.get(column, "checkbox")
            if self.decode and kind in CODED:
                codes = BUILT_IN.get(kind) or _choices(choices[column])
                unknown = ~values.isin(list(codes) + [""]).to_numpy()
                if unknown.any():
                    i = int(np.flatnonzero(unknown)[0])
                    raise RawDataError(
                        f"{self.records_path.name} line {lines[i]}, field {column}: code {values.iloc[i]!r} is not "
                        f"among the choices of the data dictionary ({', '.join(codes)})",
                        file=self.records_path.name)
                values = values.map(lambda v, c=codes: c.get(v, v))
            out[column] = values.to_numpy()
        if self.by_label:  # columns named by the fields' labels (``columns: label``)
            labels = dict(zip(self._dictionary["field"], self._dictionary["label"]))
            out = {labels.get(k, k).strip() or k: v for k, v in out.items()}
            if len(out) < len(FIXED) + len(columns):
                raise RawDataError(f"{self.dictionary_path.name}: two fields of instrument {form} have the same "
                                   f"label; with columns: label each label names one column",
                                   file=self.dictionary_path.name)
        frame = pd.DataFrame({k: pd.array(np.asarray(v, dtype=object).astype(str), dtype="string[pyarrow]")
                              for k, v in out.items()})
        return RawForm(frame, lines, [])
