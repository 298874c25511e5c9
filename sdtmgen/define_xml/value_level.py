"""Value-level metadata: ``def:ValueListDef``, ``def:WhereClauseDef`` and their ItemDefs.

Works on any dataset with a topic column, found by the CDISC naming conventions rather than by
study names:

    --TESTCD (LB, VS, ...)  -> --ORRES, --ORRESU, --STRESC, --STRESN, --STRESU
    --PARMCD (TS)           -> --VAL
    PARAMCD  (ADaM BDS)     -> AVAL, AVALC
    QNAM     (SUPP--)       -> QVAL

For every result variable present, one item per topic value that has a non-missing result in
the data (plus any the spec's ``value_level`` declares), each with its own data type, length and
significant digits judged from that value's records, the variable's codelist, origin and method,
and a where clause ``<topic> EQ <value>``. For SUPP-- the QVAL item takes its label from QLABEL,
its origin from QORIG and its codelist from the parent domain's ``supplemental`` entry. Spec
``value_level`` entries override label, codelist and origin.

All of that depends only on which values a column takes in one topic value's records (and in
which order they first appear), never on how often; so it is read from the distinct
(topic, column) pairs (:class:`TopicRecords`), one hash pass per column, instead of a mask over
every record per topic value.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from lxml import etree

from .codelist import codelist_ref
from .context import DefineContext
from .distinct import DistinctValues
from .datatypes import NUM_LENGTH, byte_length, content_type, present_text
from .item_def import ItemDef, Origin, VariableMeta, variable_origin
from .oids import define, item_oid, odm, part, value_item_oid, value_list_oid, where_clause_oid

TESTCD_RESULTS = ("ORRES", "ORRESU", "STRESC", "STRESN", "STRESU")
QORIG_ORIGIN = {"CRF": ("Collected", None), "COLLECTED": ("Collected", None), "ASSIGNED": ("Assigned", None),
                "DERIVED": ("Derived", None), "PROTOCOL": ("Protocol", None), "PREDECESSOR": ("Predecessor", None),
                "EDT": ("Collected", "Vendor"), "VENDOR": ("Collected", "Vendor")}


def topic_variable(dataset: str, columns: list[str]) -> str | None:
    """The column whose values the dataset's results depend on, by CDISC naming conventions."""
    if "QNAM" in columns and "QVAL" in columns:
        return "QNAM"
    if "PARAMCD" in columns:
        return "PARAMCD"
    for suffix in ("TESTCD", "PARMCD"):
        found = [c for c in columns if c.endswith(suffix) and len(c) > len(suffix)]
        if found:
            return found[0]
    return None


def result_variables(topic: str, columns: list[str]) -> list[str]:
    if topic == "QNAM":
        wanted = ["QVAL"]
    elif topic == "PARAMCD":
        wanted = ["AVAL", "AVALC"]
    elif topic.endswith("TESTCD"):
        wanted = [topic[:-6] + suffix for suffix in TESTCD_RESULTS]
    elif topic.endswith("PARMCD"):
        wanted = [topic[:-6] + "VAL"]
    else:
        wanted = []
    return [c for c in wanted if c in columns]


def name_column(topic: str) -> str | None:
    """The column naming a topic value: LBTESTCD -> LBTEST, PARAMCD -> PARAM, TSPARMCD -> TSPARM."""
    return topic[:-2] if topic.endswith("CD") else None


class TopicRecords:
    """The distinct values each column takes in the records of one topic value.

    ``values(column, value)`` equals ``frame.loc[frame[topic].astype("string[pyarrow]") == value, column]``
    with duplicates dropped (first appearances kept, in order): it is read from the distinct
    (topic, column) pairs, found once per column and split by topic value once.
    """

    def __init__(self, distinct: DistinctValues, topic: str):
        self.distinct, self.topic = distinct, topic
        self._tables: dict[str, _PairTable] = {}

    def _table(self, column: str) -> _PairTable:
        if column not in self._tables:
            self._tables[column] = _PairTable(self.distinct.rows([self.topic, column]), self.topic, column)
        return self._tables[column]

    def has(self, column: str) -> bool:
        return self.topic in self.distinct.frame.columns and column in self.distinct.frame.columns

    def values(self, column: str, value: str) -> pd.Series:
        if not self.has(column):
            return pd.Series([], dtype="string[pyarrow]")
        table = self._table(column)
        return table.values.iloc[table.rows(value)]

    def present(self, column: str, value: str) -> np.ndarray:
        """For each of ``values(column, value)``: not missing and not blank."""
        if not self.has(column):
            return np.zeros(0, dtype=bool)
        table = self._table(column)
        return table.present[table.rows(value)]

    def topics_with_data(self, column: str) -> list[str]:
        """Topic values (stripped, in order of first appearance) with a non-blank ``column`` value."""
        if not self.has(column):
            return []
        table = self._table(column)
        return present_text(table.keys[table.present])


class _PairTable:
    """The distinct (topic, column) pairs, with the pairs of each topic text and which values are present."""

    def __init__(self, pairs: pd.DataFrame, topic: str, column: str):
        self.values = pairs[column]
        self.keys = pairs[topic].astype("string[pyarrow]")
        self.present = is_present(self.values).to_numpy()
        codes, texts = pd.factorize(self.keys)  # missing topic: -1, in no group
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(texts) + 1))
        self._rows = {text: order[bounds[i]:bounds[i + 1]] for i, text in enumerate(texts)}

    def rows(self, value: str) -> np.ndarray:
        return self._rows.get(value, np.zeros(0, dtype=np.intp))


def is_present(values: pd.Series) -> pd.Series:
    """Not missing and not blank."""
    text = values.astype("string[pyarrow]").str.strip()
    return (text.notna() & (text != "")).fillna(False).astype(bool)


@dataclass
class ValueLevel:
    value_lists: list[etree._Element] = field(default_factory=list)
    where_clauses: dict[str, etree._Element] = field(default_factory=dict)
    item_defs: list[etree._Element] = field(default_factory=list)
    refs: dict[str, str] = field(default_factory=dict)       # result variable -> ValueListOID


def _ordered_values(ctx: DefineContext, spec: Any, where_variable: str, values: list[str]) -> list[str]:
    """Topic values in the order of the topic's codelist, then alphabetically."""
    order: list[str] = []
    try:
        cl_id = next((v.codelist for v in spec.variables if v.name == where_variable), None)
        if cl_id and cl_id in ctx.terminology.ids():
            order = ctx.terminology.get(cl_id).values()
    except AttributeError:
        order = []
    rank = {v: i for i, v in enumerate(order)}
    return sorted(set(values), key=lambda v: (rank.get(v, len(rank)), v))


def _where_clause(vl: ValueLevel, dataset: str, where_variable: str, value: str) -> str:
    base = where_clause_oid(dataset, where_variable, value)
    oid, n = base, 1
    while oid in vl.where_clauses and vl.where_clauses[oid].findtext(f".//{odm('CheckValue')}") != value:
        n += 1
        oid = f"{base}.{n}"
    if oid not in vl.where_clauses:
        element = etree.Element(define("WhereClauseDef"), OID=oid)
        check = etree.SubElement(element, odm("RangeCheck"), Comparator="EQ", SoftHard="Soft")
        check.set(define("ItemOID"), item_oid(dataset, where_variable))
        etree.SubElement(check, odm("CheckValue")).text = value
        vl.where_clauses[oid] = element
    return oid


def _supp_entry(ctx: DefineContext, dataset: str, qnam: str) -> Any:
    parent = ctx.specs.get(dataset[4:]) if dataset.startswith("SUPP") else None
    for entry in getattr(parent, "supplemental", []) or []:
        if entry.qnam == qnam:
            return entry
    return None


def value_level(ctx: DefineContext, dataset: str, frame: pd.DataFrame, spec: Any,
                metas: dict[str, VariableMeta], method_oids: dict[str, str | None],
                distinct: DistinctValues | None = None) -> ValueLevel:
    vl = ValueLevel()
    distinct = distinct if distinct is not None else DistinctValues(frame)
    columns = list(frame.columns)
    declared = list(getattr(spec, "value_level", []) or [])
    pairs: list[tuple[str, str]] = []
    topic = topic_variable(dataset, columns)
    if topic:
        pairs += [(result, topic) for result in result_variables(topic, columns)]
    for entry in declared:
        if (entry.variable, entry.where_variable) not in pairs and entry.variable in metas:
            if any(p[0] == entry.variable for p in pairs):
                ctx.warn("DEFINE-VLM", dataset, f"value level by {entry.where_variable} ignored: the variable "
                         "already has value-level metadata by another variable", entry.variable)
                continue
            pairs.append((entry.variable, entry.where_variable))
    variables = {v.name: v for v in spec.variables}
    for result, where_variable in pairs:
        overrides = {e.where_value: e for e in declared
                     if e.variable == result and e.where_variable == where_variable}
        records = TopicRecords(distinct, where_variable)
        values = _ordered_values(ctx, spec, where_variable, records.topics_with_data(result) + list(overrides))
        if not values:
            continue
        refs = etree.Element(define("ValueListDef"), OID=value_list_oid(dataset, result))
        parent = metas[result]
        var = variables[result]
        for order, value in enumerate(values, start=1):
            subset = records.values(result, value)
            present = records.present(result, value)
            entry = overrides.get(value)
            has_data = bool(present.any())
            data_type, digits = content_type(subset, parent.type)
            if entry is not None and entry.type == "Char" and parent.type == "Num":
                data_type, digits = "text", None
            length = NUM_LENGTH if parent.type == "Num" else (byte_length(subset) if has_data else parent.length)
            meta = replace(parent, data_type=data_type, significant_digits=digits, length=length)
            description, name, origin_el, cl_id = _describe(ctx, dataset, records, var, value, entry, parent)
            cl_oid = codelist_ref(ctx, dataset, var, subset, data_type, codelist_id=cl_id)
            item_oid_ = value_item_oid(dataset, result, value)
            if any(e.get("OID") == item_oid_ for e in vl.item_defs):
                item_oid_ = f"{item_oid_}.{order}"
            vl.item_defs.append(ItemDef(ctx, meta, origin=origin_el, codelist_oid=cl_oid, oid=item_oid_,
                                        name=name, description=description))
            ref = etree.SubElement(refs, odm("ItemRef"), ItemOID=item_oid_, OrderNumber=str(order),
                                   Mandatory="Yes" if has_data and bool(present.all()) else "No")
            method = method_oids.get(result)
            if method:
                ref.set("MethodOID", method)
            if not has_data:
                ref.set(define("HasNoData"), "Yes")
            etree.SubElement(ref, define("WhereClauseRef"),
                             WhereClauseOID=_where_clause(vl, dataset, where_variable, value))
        vl.value_lists.append(refs)
        vl.refs[result] = refs.get("OID")
    return vl


def _describe(ctx: DefineContext, dataset: str, records: TopicRecords, var: Any, value: str, entry: Any,
              parent: VariableMeta):
    """(Description, Name, def:Origin, codelist id) of one value-level item."""
    cl_id = getattr(entry, "codelist", None) if entry is not None else None
    name = parent.name
    where_variable = records.topic
    if where_variable == "QNAM":
        name = part(value)[:8]
        labels = present_text(records.values("QLABEL", value))
        description = labels[0] if labels else value
        origins = present_text(records.values("QORIG", value))
        origin_type, source = QORIG_ORIGIN.get(origins[0].upper(), ("Collected", None)) if origins else ("Collected", None)
        supp = _supp_entry(ctx, dataset, value)
        cl_id = cl_id or getattr(supp, "codelist", None)
        origin_el = Origin(ctx, origin_type, source=source)
    else:
        names_col = name_column(where_variable)
        names = present_text(records.values(names_col, value)) if names_col else []
        description = f"{parent.label} for {names[0] if names else value}"
        origin_el = variable_origin(ctx, dataset, var)
    if entry is not None:
        if entry.label:
            description = entry.label
        if getattr(entry, "unit", None):
            description = f"{description} ({entry.unit})"
        explicit = getattr(entry, "model_fields_set", {"origin"})
        if "origin" in explicit and getattr(entry, "origin", None) and entry.origin != origin_el.get("Type"):
            origin_el = Origin(ctx, entry.origin)
    return description, name, origin_el, cl_id
