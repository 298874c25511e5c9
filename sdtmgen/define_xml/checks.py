"""Consistency of a written define.xml with the dataset files it describes.

``check_define`` reads define.xml back (it trusts nothing the writer meant to do) and compares it
with what the dataset files actually hold, as ``sdtmgen.errors.Finding`` s (all errors):

* DEFINE-OID       every OID is defined once; every reference (ItemOID, CodeListOID, MethodOID,
                   def:CommentOID, ValueListOID, WhereClauseOID, def:ItemOID, def:StandardOID,
                   leafID, def:ArchiveLocationID, ARM's ItemGroupOID and ParameterOID) resolves to a definition of the right kind
* DEFINE-DATASET   every data file has an ItemGroupDef of the same name, and the reverse
* DEFINE-LEAF      every dataset's def:leaf points at a file that exists
* DEFINE-LABEL     dataset and variable labels equal the file's labels
* DEFINE-VARIABLE  every variable of the file has an ItemRef/ItemDef of the same name, and the reverse
* DEFINE-ORDER     variables are in the file's order
* DEFINE-TYPE      Num <-> integer/float; integer holds whole numbers; value-level numeric types hold numbers
* DEFINE-LENGTH    ItemDef Length equals the XPT length (value level: no value is longer)
* DEFINE-CT        every value of a variable with a CodeListRef is a coded value of the list; a
                   value marked def:ExtendedValue="Yes" belongs to an extensible codelist; a value
                   a CDISC codelist does not contain is marked as an extension

The data side is read from the files next to define.xml (``observe_folder``): XPT headers
(labels, types, storage lengths), else Dataset-JSON (column metadata and rows). The values are
read only for the variables a check looks at (a codelist, value-level metadata and the columns
of its where clauses, integer Num variables), XPT columns as categoricals (``read_xpt_columns(...,
categorical=True)``: each distinct value decoded once). The values come from the files, not
from the frames the writer was given: the guarantee is about what was written, so a writer
that lost or changed values is caught; the read costs one pass over each file. In a build
(``package.write_define_package``) that pass runs on a thread while define.xml is being built
(:class:`ReadAhead`): each file's columns are read as soon as its dataset is described.

Every data check depends only on which values occur (a where clause: which values occur
together with which), so it runs on the distinct values and distinct combinations of columns
(:class:`~sdtmgen.define_xml.distinct.DistinctValues`: one hash pass per column) rather than
on every record: a where clause is evaluated on the distinct combinations of its columns and
the variable it qualifies, not as a mask over all records.
"""

from __future__ import annotations

import json
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd
from lxml import etree

from sdtmgen.errors import Finding
from sdtmgen.xpt import read_xpt_columns

from .codelist import data_values
from .distinct import DistinctValues
from .datatypes import ISO_TYPES, LENGTH_TYPES, byte_length, present_numbers, present_text
from .oids import XPATH_NS, define, xlink

NUM_TYPES = frozenset({"integer", "float"})


@dataclass(frozen=True)
class ObservedVariable:
    name: str
    label: str
    type: str          # "Char" | "Num"
    length: int


@dataclass
class ObservedDataset:
    """A data file's metadata; its values are read when asked for (``columns``, ``frame``)."""

    name: str
    label: str
    variables: list[ObservedVariable]
    file: str
    read: Callable[[list[str] | None], pd.DataFrame]  # the named columns (None: all) of the file
    _frame: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def frame(self) -> pd.DataFrame:
        """Every column (XPT text as categoricals)."""
        if self._frame is None:
            self._frame = self.read(None)
        return self._frame

    def columns(self, names: Iterable[str]) -> pd.DataFrame:
        """The named columns of the file, in file order (names it does not have are left out)."""
        wanted = set(names)
        names = [v.name for v in self.variables if v.name in wanted]
        return self._frame[names] if self._frame is not None else self.read(names)


#: while columns are read ahead, the interpreter hands the GIL to a waiting thread after this long (Python's
#: default: 5 ms): the reader needs it only for moments between numpy, pandas and file calls, but each time it
#: waits until the builder, busy in Python, is asked to let go -- with 5 ms a read took ~3-10x its time
SWITCH_INTERVAL = 0.0005


class ReadAhead:
    """Columns of a package's XPT files read on a background thread while define.xml is being built.

    The check reads back, from each data file, the variables a check looks at (``_checked_columns``).
    Which those are is known only from define.xml; ``start`` is given the elements made for one dataset
    as the builder finishes it (``columns_to_check``: the variables those elements give a codelist,
    value-level metadata or the integer type, and the columns of their where clauses), and reads those
    columns of the dataset's file on one thread, one file after another. The reader spends its time in
    file reads, numpy and pandas' hash tables, mostly without the GIL, so it runs beside the builder on
    a second core. ``take`` hands the check a file's columns when they are the ones it asks for (else
    None: the check reads the file itself, as it always did); a read that failed is left to the check's
    own read to report. What is read is the file as written (the files are complete before define.xml
    is built): the check still compares define.xml with the files, not with the frames it was made from.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="define-read")
        self._reads: dict[Path, Future[pd.DataFrame]] = {}
        self._switch = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch, SWITCH_INTERVAL))

    def start(self, dataset: str, columns: Iterable[str]) -> None:
        path = self.folder / f"{dataset.lower()}.xpt"
        wanted = set(columns)
        if wanted and path.is_file() and path not in self._reads:
            self._reads[path] = self._pool.submit(self._read, path, wanted)

    @staticmethod
    def _read(path: Path, wanted: set[str]) -> pd.DataFrame:
        _, meta = read_xpt_columns(path, metadata_only=True)
        return read_xpt_columns(path, columns=[c for c in meta.column_names if c in wanted], categorical=True)[0]

    def take(self, path: Path, columns: list[str]) -> pd.DataFrame | None:
        """The columns (in file order) of ``path`` when they were read ahead, else None; forgotten once taken."""
        read = self._reads.pop(Path(path), None)
        if read is None:
            return None
        try:
            frame = read.result()
        except Exception:  # noqa: BLE001 - the check's own read of the file reports what is wrong with it
            return None
        if list(frame.columns) == columns:
            return frame
        return frame[columns] if set(columns) <= set(frame.columns) else None

    def close(self) -> None:
        """Wait for the read in progress, drop those not started and what was not taken."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._reads.clear()
        sys.setswitchinterval(self._switch)

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


def columns_to_check(elements: Iterable[etree._Element]) -> set[str]:
    """The variables whose values the check will read, judged from the elements made for one dataset
    (its ItemDefs, value-level ItemDefs, ValueListDefs and WhereClauseDefs): the read-ahead's guess of
    ``_checked_columns``, which decides on the written define.xml. Variables with a codelist, value-level
    metadata or DataType integer, and the variables the where clauses test (looked up among these ItemDefs)."""
    names: dict[str, str] = {}
    wanted: set[str] = set()
    clauses = []
    for element in elements:
        kind = _local(element.tag)
        if kind == "ItemDef":
            name = element.get("Name") or ""
            names[element.get("OID") or ""] = name
            if (element.get("DataType") == "integer" or element.find("odm:CodeListRef", XPATH_NS) is not None
                    or element.find("def:ValueListRef", XPATH_NS) is not None):
                wanted.add(name)
        elif kind == "WhereClauseDef":
            clauses.append(element)
    for clause in clauses:
        for check in clause.findall("odm:RangeCheck", XPATH_NS):
            name = names.get(check.get(define("ItemOID")) or "")
            if name:
                wanted.add(name)
    return wanted


def observe_xpt(path: Path, ahead: ReadAhead | None = None) -> ObservedDataset:
    _, meta = read_xpt_columns(path, metadata_only=True)
    variables = [ObservedVariable(name=c, label=meta.column_names_to_labels.get(c) or "", type=meta.types[c],
                                  length=meta.lengths[c]) for c in meta.column_names]

    def read(columns: list[str] | None) -> pd.DataFrame:
        if columns and ahead is not None:  # (no column: nothing to read ahead)
            frame = ahead.take(path, columns)
            if frame is not None:
                return frame
        return read_xpt_columns(path, columns=columns, categorical=True)[0]

    return ObservedDataset(name=meta.table_name, label=meta.file_label, variables=variables, file=path.name,
                           read=read)


def observe_dataset_json(path: Path) -> ObservedDataset:
    lines = path.read_text(encoding="utf-8").splitlines()
    if path.suffix == ".ndjson":
        doc, rows = json.loads(lines[0]), [json.loads(line) for line in lines[1:] if line.strip()]
    else:
        doc = json.loads("\n".join(lines))
        rows = doc.get("rows", [])
    from sdtmgen.dataset_json import iso_to_sas  # noqa: PLC0415 - dataset_json imports this package

    columns = doc["columns"]
    numeric = [c["dataType"] in ("integer", "float", "double", "decimal") or "targetDataType" in c for c in columns]
    variables = [ObservedVariable(name=c["name"], label=c.get("label", ""), type="Num" if num else "Char",
                                  length=int(c.get("length") or 8)) for c, num in zip(columns, numeric)]
    frame = pd.DataFrame(rows, columns=[c["name"] for c in columns], dtype=object)
    for c in columns:  # ISO 8601 text of numeric SAS dates/times back to numbers
        if c.get("targetDataType") == "integer" and c["dataType"] in ("date", "datetime", "time"):
            frame[c["name"]] = [None if v is None else iso_to_sas(v, c["dataType"]) for v in frame[c["name"]]]
    return ObservedDataset(name=doc["name"], label=doc.get("label", ""), variables=variables, file=path.name,
                           read=lambda names: frame if names is None else frame[names], _frame=frame)


READERS = {"xpt": observe_xpt, "json": observe_dataset_json, "ndjson": observe_dataset_json}


def observe_folder(folder: Path, ext: str | None = None, ahead: ReadAhead | None = None) -> dict[str, ObservedDataset]:
    """The datasets of a package folder in one format (``ext``; default: XPT, else Dataset-JSON, else NDJSON).

    ``ahead``: XPT columns read ahead (``ReadAhead``), taken when they are the ones a check reads."""
    folder = Path(folder)
    for candidate in [ext] if ext else list(READERS):
        files = sorted(folder.glob(f"*.{candidate}"))
        if files:
            if candidate == "xpt":
                found = [observe_xpt(p, ahead) for p in files]
            else:
                found = [READERS[candidate](p) for p in files]
            return {d.name: d for d in found}
    return {}


def _text(element: etree._Element | None) -> str:
    if element is None:
        return ""
    found = element.find("odm:Description/odm:TranslatedText", XPATH_NS)
    return found.text or "" if found is not None else ""


# (attribute, element kinds it may point at)
REFERENCES = [
    ("ItemOID", {"ItemDef"}), ("CodeListOID", {"CodeList"}), ("MethodOID", {"MethodDef"}),
    (define("CommentOID"), {"CommentDef"}), ("ValueListOID", {"ValueListDef"}),
    ("WhereClauseOID", {"WhereClauseDef"}), (define("ItemOID"), {"ItemDef"}),
    (define("StandardOID"), {"Standard"}), ("leafID", {"leaf"}), (define("ArchiveLocationID"), {"leaf"}),
    ("ItemGroupOID", {"ItemGroupDef"}), ("ParameterOID", {"ItemDef"}),   # ARM 1.0 analysis results
]
DEFINITIONS = ["ItemGroupDef", "ItemDef", "CodeList", "MethodDef", "CommentDef", "ValueListDef",
               "WhereClauseDef", "Standard"]


def _local(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


class _Define:
    def __init__(self, tree: etree._ElementTree):
        self.root = tree.getroot()
        self.mdv = self.root.find(".//odm:MetaDataVersion", XPATH_NS)
        self.defs: dict[str, etree._Element] = {}
        self.duplicates: list[str] = []
        self.leaves: dict[str, etree._Element] = {}
        for element in self.mdv.iter():
            kind = _local(element.tag)
            if kind in DEFINITIONS and element.get("OID"):
                if element.get("OID") in self.defs:
                    self.duplicates.append(element.get("OID"))
                self.defs[element.get("OID")] = element
            elif kind == "leaf" and element.get("ID"):
                if element.get("ID") in self.leaves:
                    self.duplicates.append(element.get("ID"))
                self.leaves[element.get("ID")] = element

    def target(self, oid: str | None) -> etree._Element | None:
        return self.defs.get(oid) if oid else None

    def groups(self) -> dict[str, etree._Element]:
        return {g.get("Name"): g for g in self.mdv.findall("odm:ItemGroupDef", XPATH_NS)}


def _reference_findings(d: _Define) -> list[Finding]:
    found = [Finding(rule="DEFINE-OID", severity="error", dataset="*", message=f"OID {oid} is defined more than once")
             for oid in sorted(set(d.duplicates))]
    for element in d.root.iter():
        kind = _local(element.tag)
        for attribute, kinds in REFERENCES:
            value = element.get(attribute)
            if value is None:
                continue
            target = d.leaves.get(value) if kinds == {"leaf"} else d.defs.get(value)
            if target is None or _local(target.tag) not in kinds:
                owner = element.get("OID") or next((a.get("OID") for a in element.iterancestors() if a.get("OID")), "")
                found.append(Finding(rule="DEFINE-OID", severity="error", dataset="*",
                                     message=f"{etree.QName(attribute).localname}=\"{value}\" on {kind} in {owner} "
                                             f"refers to no {'/'.join(sorted(kinds))}"))
    return found


def _codelist_findings(dataset: str, variable: str, values: list[str], codelist: etree._Element,
                       terminology: Any, where: str = "") -> list[Finding]:
    if codelist.find("odm:ExternalCodeList", XPATH_NS) is not None:
        return []
    items = {}
    for item in codelist:
        if _local(item.tag) in ("CodeListItem", "EnumeratedItem"):
            items[item.get("CodedValue")] = item.get(define("ExtendedValue")) == "Yes"
    oid = codelist.get("OID", "")
    spec_list = None
    if terminology is not None and oid.startswith("CL.") and oid[3:] in terminology.ids():
        spec_list = terminology.get(oid[3:])
    is_cdisc = codelist.find("odm:Alias[@Context='nci:ExtCodeID']", XPATH_NS) is not None
    findings = []
    missing = [v for v in values if v not in items]
    if missing:
        findings.append(Finding(rule="DEFINE-CT", severity="error", dataset=dataset, variable=variable,
                                values=tuple(missing), message=f"value(s){where} not in codelist {oid}"))
    extended = [v for v in values if items.get(v)]
    if extended and spec_list is not None and not spec_list.extensible:
        findings.append(Finding(rule="DEFINE-CT", severity="error", dataset=dataset, variable=variable,
                                values=tuple(extended),
                                message=f"value(s){where} marked as extensions of the non-extensible codelist {oid}"))
    if spec_list is not None and is_cdisc:
        listed = {t.value for t in spec_list.terms if not t.extended}
        unmarked = [v for v in values if v in items and not items[v] and v not in listed]
        if unmarked:
            findings.append(Finding(rule="DEFINE-CT", severity="error", dataset=dataset, variable=variable,
                                    values=tuple(unmarked),
                                    message=f"sponsor value(s){where} in CDISC codelist {oid} not marked "
                                            "def:ExtendedValue=\"Yes\""))
    return findings


def _where_mask(d: _Define, frame: pd.DataFrame, clause: etree._Element,
                stripped: dict[str, pd.Series]) -> pd.Series | None:
    mask = pd.Series(True, index=frame.index)
    for check in clause.findall("odm:RangeCheck", XPATH_NS):
        item = d.target(check.get(define("ItemOID")))
        column = item.get("Name") if item is not None else None
        if column not in frame.columns:
            return None
        values = [c.text or "" for c in check.findall("odm:CheckValue", XPATH_NS)]
        if column not in stripped:
            stripped[column] = frame[column].astype("string[pyarrow]").str.strip()
        hit = stripped[column].isin(values).fillna(False).astype(bool)
        comparator = check.get("Comparator")
        mask &= ~hit if comparator in ("NE", "NOTIN") else hit
    return mask


def _value_list(d: _Define, item: etree._Element) -> etree._Element | None:
    ref = item.find("def:ValueListRef", XPATH_NS)
    return d.target(ref.get("ValueListOID")) if ref is not None else None


def _codelist(d: _Define, item: etree._Element) -> etree._Element | None:
    ref = item.find("odm:CodeListRef", XPATH_NS)
    return d.target(ref.get("CodeListOID")) if ref is not None else None


def _where_clauses(d: _Define, value_list: etree._Element) -> list[tuple[etree._Element, etree._Element]]:
    """(ItemDef, WhereClauseDef) of each ItemRef of a value list whose references resolve."""
    found = []
    for ref in value_list.findall("odm:ItemRef", XPATH_NS):
        item = d.target(ref.get("ItemOID"))
        wc_ref = ref.find("def:WhereClauseRef", XPATH_NS)
        clause = d.target(wc_ref.get("WhereClauseOID")) if wc_ref is not None else None
        if item is not None and clause is not None:  # else reported as DEFINE-OID
            found.append((item, clause))
    return found


def _where_columns(d: _Define, clause: etree._Element) -> list[str | None]:
    columns = []
    for check in clause.findall("odm:RangeCheck", XPATH_NS):
        item = d.target(check.get(define("ItemOID")))
        columns.append(item.get("Name") if item is not None else None)
    return columns


def _checked_columns(d: _Define, obs: ObservedDataset, items: dict[str, etree._Element]) -> list[str]:
    """The variables whose values a check reads: integer Num, with a codelist or value-level metadata
    (and the columns of its where clauses)."""
    needed: set[str] = set()
    for var in obs.variables:
        item = items.get(var.name)
        if item is None:
            continue
        if var.type == "Num" and item.get("DataType") == "integer" or _codelist(d, item) is not None:
            needed.add(var.name)
        value_list = _value_list(d, item)
        if value_list is not None:
            needed.add(var.name)
            for _, clause in _where_clauses(d, value_list):
                needed.update(c for c in _where_columns(d, clause) if c)
    return [v.name for v in obs.variables if v.name in needed]


def _variable_findings(d: _Define, obs: ObservedDataset, data: DistinctValues, var: ObservedVariable,
                       item: etree._Element, terminology: Any) -> list[Finding]:
    found: list[Finding] = []
    name, ds = var.name, obs.name
    if _text(item) != var.label:
        found.append(Finding(rule="DEFINE-LABEL", severity="error", dataset=ds, variable=name,
                             message=f"define.xml label {_text(item)!r} differs from the file's {var.label!r}"))
    data_type = item.get("DataType")
    if var.type == "Num" and data_type not in NUM_TYPES:
        found.append(Finding(rule="DEFINE-TYPE", severity="error", dataset=ds, variable=name,
                             message=f"Num variable has DataType {data_type}"))
    if var.type == "Char" and data_type in NUM_TYPES:
        found.append(Finding(rule="DEFINE-TYPE", severity="error", dataset=ds, variable=name,
                             message=f"Char variable has DataType {data_type}"))
    if var.type == "Num" and data_type == "integer":
        nums = present_numbers(data.values(name))
        if len(nums) and not np.all(nums == np.floor(nums)):
            found.append(Finding(rule="DEFINE-TYPE", severity="error", dataset=ds, variable=name,
                                 message="DataType integer but the data has fractional values"))
    length = item.get("Length")
    if length is not None and int(length) != var.length:
        found.append(Finding(rule="DEFINE-LENGTH", severity="error", dataset=ds, variable=name,
                             message=f"define.xml Length {length} differs from the file's length {var.length}"))
    if length is None and data_type in LENGTH_TYPES:
        found.append(Finding(rule="DEFINE-LENGTH", severity="error", dataset=ds, variable=name,
                             message=f"DataType {data_type} without a Length"))
    codelist = _codelist(d, item)
    if codelist is not None:
        found += _codelist_findings(ds, name, data_values(data.values(name), var.type), codelist, terminology)
    value_list = _value_list(d, item)
    if value_list is not None:
        found += _value_level_findings(d, obs, data, var, value_list, terminology)
    return found


def _value_level_findings(d: _Define, obs: ObservedDataset, data: DistinctValues, var: ObservedVariable,
                          value_list: etree._Element, terminology: Any) -> list[Finding]:
    """Each where clause evaluated on the distinct combinations of its columns and the variable.

    The variable's values in the records a clause selects are the values in the combinations it
    selects (in the same order of first appearance); repeats do not change a finding.
    """
    found: list[Finding] = []
    stripped: dict[str, pd.Series] = {}
    clauses = _where_clauses(d, value_list)
    columns = {c for _, clause in clauses for c in _where_columns(d, clause) if c in data.frame.columns}
    combinations = data.rows([c for c in data.frame.columns if c in columns] + [var.name])
    for item, clause in clauses:
        mask = _where_mask(d, combinations, clause, stripped)
        if mask is None:
            continue
        subset = combinations.loc[mask, var.name]
        where = f" where {clause.get('OID')}"
        data_type, texts = item.get("DataType"), present_text(subset)
        if var.type == "Char" and data_type in NUM_TYPES:
            bad = [t for t in texts if not _is_number(t, data_type)]
            if bad:
                found.append(Finding(rule="DEFINE-TYPE", severity="error", dataset=obs.name, variable=var.name,
                                     values=tuple(sorted(set(bad))), message=f"value(s){where} are not {data_type}"))
        length = item.get("Length")
        if var.type == "Char" and length is not None and byte_length(subset) > int(length):
            found.append(Finding(rule="DEFINE-LENGTH", severity="error", dataset=obs.name, variable=var.name,
                                 message=f"value(s){where} longer than the value-level Length {length}"))
        ref_cl = item.find("odm:CodeListRef", XPATH_NS)
        codelist = d.target(ref_cl.get("CodeListOID")) if ref_cl is not None else None
        if codelist is not None:
            found += _codelist_findings(obs.name, var.name, data_values(subset, var.type), codelist, terminology, where)
    return found


def _is_number(text: str, data_type: str) -> bool:
    try:
        value = float(text)
    except ValueError:
        return False
    return data_type == "float" or value.is_integer() and "." not in text and "e" not in text.lower()


def check_define(define_xml: str | Path | etree._ElementTree, observed: dict[str, ObservedDataset],
                 terminology: Any = None, folder: str | Path | None = None) -> list[Finding]:
    """Findings where define.xml and the observed datasets disagree (empty when consistent)."""
    if isinstance(define_xml, (str, Path)):
        folder = folder if folder is not None else Path(define_xml).parent
        tree = etree.parse(str(define_xml))
    else:
        tree = define_xml
    d = _Define(tree)
    findings = _reference_findings(d)
    groups = d.groups()
    for name in sorted(observed):
        obs = observed[name]
        group = groups.get(name)
        if group is None:
            findings.append(Finding(rule="DEFINE-DATASET", severity="error", dataset=name,
                                    message=f"{obs.file} has no ItemGroupDef in define.xml"))
            continue
        if _text(group) != obs.label:
            findings.append(Finding(rule="DEFINE-LABEL", severity="error", dataset=name,
                                    message=f"define.xml label {_text(group)!r} differs from the file's {obs.label!r}"))
        refs = sorted(group.findall("odm:ItemRef", XPATH_NS), key=lambda r: int(r.get("OrderNumber") or 0))
        items = {}
        for ref in refs:
            item = d.target(ref.get("ItemOID"))
            if item is not None:
                items[item.get("Name")] = item
        names = [v.name for v in obs.variables]
        data = DistinctValues(obs.columns(_checked_columns(d, obs, items)), factorised_categoricals=True)
        for var in obs.variables:
            if var.name not in items:
                findings.append(Finding(rule="DEFINE-VARIABLE", severity="error", dataset=name, variable=var.name,
                                        message=f"variable of {obs.file} has no ItemRef/ItemDef in IG.{name}"))
            else:
                findings += _variable_findings(d, obs, data, var, items[var.name], terminology)
        extra = [n for n in items if n not in names]
        for n in extra:
            findings.append(Finding(rule="DEFINE-VARIABLE", severity="error", dataset=name, variable=n,
                                    message=f"described in define.xml but not in {obs.file}"))
        common_define = [n for n in items if n in names]
        common_file = [n for n in names if n in items]
        if common_define != common_file:
            findings.append(Finding(rule="DEFINE-ORDER", severity="error", dataset=name,
                                    message="define.xml variable order (OrderNumber) differs from the file's order"))
        leaf = group.find("def:leaf", XPATH_NS)
        href = leaf.get(xlink("href")) if leaf is not None else None
        if href is None or (folder is not None and not (Path(folder) / href).is_file()):
            findings.append(Finding(rule="DEFINE-LEAF", severity="error", dataset=name,
                                    message=f"def:leaf href {href!r} is not a file of the package"))
    for name in sorted(set(groups) - set(observed)):
        findings.append(Finding(rule="DEFINE-DATASET", severity="error", dataset=name,
                                message="ItemGroupDef in define.xml without a dataset file"))
    return findings


__all__ = ["ISO_TYPES", "ObservedDataset", "ObservedVariable", "ReadAhead", "check_define", "columns_to_check",
           "observe_dataset_json", "observe_folder", "observe_xpt"]
