"""Analysis Results Metadata (ARM 1.0) for the ADaM define.xml, from the study's report.yaml.

One ``arm:ResultDisplay`` per outcome measure of report.yaml (the table ``report/rtf/outcome_NN.rtf``
when RTF tables are written, referenced by a def:DocumentRef), one ``arm:AnalysisResult`` per
analysis in it (a recovery PARAMCD, a lab PARAMCD, an ADSL flag, ...). Each result names the ADaM
datasets it reads, the records it keeps (``def:WhereClauseDef``: PARAMCD EQ ..., flag EQ Y, the
population flag EQ Y), the analysis variables, the method as the ARD states it, and the build step
that computes it (``arm:ProgrammingCode``: a description, never executable code).

Everything comes from report.yaml and the ADaM specs: an outcome whose dataset is not in the package
is left out, and a variable the ADaM spec does not define is not referenced (every OID resolves).

OIDs (names only, deterministic):

    arm:ResultDisplay     RD.OUTCOME_04
    arm:AnalysisResult    AR.OUTCOME_04.ANCREC05
    def:WhereClauseDef    WC.AR.OUTCOME_04.ANCREC05.ADTTE
    def:leaf              LF.RTF.OUTCOME_04
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from lxml import etree

from sdtmgen import __version__

from .context import DefineContext, clean, translated
from .item_group import leaf
from .oids import define, item_group_oid, item_oid, odm, part

ARM_NS = "http://www.cdisc.org/ns/arm/v1.0"
#: the outcome measures are those of the study's registration record (report.yaml's numbers)
REASON = "SPECIFIED IN PROTOCOL"
PURPOSES = {"primary": "PRIMARY OUTCOME MEASURE", "secondary": "SECONDARY OUTCOME MEASURE",
            "exploratory": "EXPLORATORY OUTCOME MEASURE"}
RTF_HREF = "../report/rtf/outcome_{number:02d}.rtf"   # the package folders are siblings: adam/, report/
CONTEXT = f"Python, sdtmgen {__version__} (report step; description, not executable code)"


def arm(tag: str) -> str:
    return f"{{{ARM_NS}}}{tag}"


@dataclass
class Used:
    """One analysis dataset of a result: records kept (variable, value) and the analysis variables."""

    dataset: str
    where: list[tuple[str, str]] = field(default_factory=list)
    variables: list[str] = field(default_factory=list)


@dataclass
class Result:
    key: str            # OID part
    description: str
    method: str
    code: str
    parameter: str | None = None   # PARAMCD value -> ParameterOID (the dataset's PARAMCD)
    used: list[Used] = field(default_factory=list)


def _methods() -> tuple[str, str]:
    from sdtmgen.report.ard import PROPORTION_METHOD
    from sdtmgen.report.km import METHOD

    return METHOD, PROPORTION_METHOD


def _stripped(frame: Any, column: str, memo: dict) -> tuple[Any, Any]:
    """(code of each record, the distinct values as ``astype(str).str.strip()`` gives them) of a column,
    missing values a value of their own (``<NA>``/``nan`` as text); one hash pass per column and frame."""
    key = (id(frame), column)
    if key not in memo:
        series = frame[column]
        codes, values = series.factorize(use_na_sentinel=False)
        distinct = pd.Series(values, dtype=series.dtype)
        memo[key] = (codes, distinct.astype(str).str.strip().to_numpy(dtype=object), distinct.notna().to_numpy())
    return memo[key]


def _defines_flag(frames: dict[str, Any], paramcd: str, flag: str, memo: dict | None = None) -> bool:
    """False when ADLB has records of ``paramcd`` but never fills ``flag`` for them (the report skips
    an extra criterion ADaM does not define for a parameter)."""
    adlb = frames.get("ADLB")
    if adlb is None or "PARAMCD" not in adlb or flag not in adlb:
        return True
    memo = {} if memo is None else memo
    codes, names, _ = _stripped(adlb, "PARAMCD", memo)  # judged per distinct value, not per record
    rows = (names == paramcd)[codes]
    if not rows.any():
        return True
    flags, texts, present = _stripped(adlb, flag, memo)
    filled = present & (texts != "")
    return bool(filled[flags[rows]].any())


def _param(frames: dict[str, Any], dataset: str, paramcd: str, memo: dict | None = None) -> str:
    """The dataset's PARAM text of ``paramcd`` ("PARAM (PARAMCD)"), or the code when it has no record."""
    frame = frames.get(dataset)
    if frame is None or "PARAM" not in frame or "PARAMCD" not in frame:
        return paramcd
    codes, names, _ = _stripped(frame, "PARAMCD", {} if memo is None else memo)  # per distinct value
    found = frame["PARAM"].take(np.flatnonzero((names == paramcd)[codes])).dropna()
    return f"{str(found.iloc[0]).strip()} ({paramcd})" if len(found) else paramcd


def _results(outcome: Any, cfg: Any, frames: dict[str, Any], memo: dict | None = None) -> list[Result]:
    """The analyses of one outcome measure, as the report step computes them (``memo``: column encodings
    shared between the outcomes)."""
    km, proportion = _methods()
    group = cfg.groups.variable
    safety = Used("ADSL", [(cfg.populations.safety, "Y")], [group])
    window = f"chemotherapy days {cfg.window.first_day}-{cfg.window.last_day} (day 1 = ADSL {cfg.window.anchor})"
    kind = outcome.kind
    if kind == "recovery":
        return [Result(p, f"{outcome.title}: {_param(frames, 'ADTTE', p, memo)}", km,
                       f"sdtmgen.report.km: ADTTE records with PARAMCD = {p} of the safety population "
                       f"({cfg.populations.safety} = Y), by {group}: Kaplan-Meier fit of AVAL (days) with "
                       f"CNSR = 1 censored; median and quartiles with Brookmeyer-Crowley limits, S(t) at days "
                       f"{', '.join(map(str, outcome.timepoints)) or '-'}, conf. level {outcome.conf_level}.",
                       parameter=p, used=[Used("ADTTE", [("PARAMCD", p)], ["AVAL", "CNSR"]), safety])
                for p in outcome.paramcds]
    if kind == "lab_incidence":
        return [Result(f"{p}.{flag}", f"{outcome.title}: subjects with {p} {flag} = Y", proportion,
                       f"sdtmgen.report.incidence: subjects of the safety population with at least one ADLB "
                       f"record PARAMCD = {p}, {flag} = Y on {window} ({cfg.lab_day}), by {group}; n/N with "
                       "exact limits.", parameter=p,
                       used=[Used("ADLB", [("PARAMCD", p), (flag, "Y")], [flag, cfg.lab_day]), safety])
                for p in outcome.paramcds for i, flag in enumerate(outcome.flags)
                if i == 0 or _defines_flag(frames, p, flag, memo)]
    if kind == "event_incidence":
        return [Result(outcome.flag, outcome.label or outcome.title, proportion,
                       f"sdtmgen.report.incidence: subjects of the safety population with at least one ADAE "
                       f"record {outcome.flag} = Y starting on {window} ({cfg.ae_day}), by {group}; n/N with "
                       "exact limits.", used=[Used("ADAE", [(outcome.flag, "Y")], [outcome.flag, cfg.ae_day]), safety])]
    if kind == "episode_duration":
        return [Result(outcome.flag, outcome.title, "Episodes: overlapping or touching ADAE records merged "
                       f"(at most {outcome.merge_gap_days} event-free day(s) between them), cut at day "
                       f"{cfg.window.last_day}; n, mean, SD, median, Q1-Q3, min-max of the durations in days",
                       f"sdtmgen.report.durations: ADAE records {outcome.flag} = Y (ASTDT-AENDT) of the safety "
                       f"population merged into episodes per subject, durations per episode and per subject, by {group}.",
                       used=[Used("ADAE", [(outcome.flag, "Y")], ["ASTDT", "AENDT", cfg.ae_day]), safety])]
    if kind == "subject_flags":
        return [Result(f.flag, f.label, proportion,
                       f"sdtmgen.report.incidence: subjects of the safety population with ADSL {f.flag} = Y, "
                       f"by {group}; n/N with exact limits.",
                       used=[Used("ADSL", [(cfg.populations.safety, "Y"), (f.flag, "Y")], [f.flag, group])])
                for f in outcome.flags]
    if kind == "dlt":
        evaluable = Used("ADSL", [(cfg.populations.dlt_evaluable, "Y")], [group])
        return [Result(outcome.flag, outcome.title, proportion,
                       f"sdtmgen.report.dlt: DLT-evaluable subjects ({cfg.populations.dlt_evaluable} = Y) with at "
                       f"least one ADAE record {outcome.flag} = Y, by {group}; DLT rate n/N with exact limits.",
                       used=[Used("ADAE", [(outcome.flag, "Y")], [outcome.flag, outcome.term]), evaluable])]
    if kind == "mtd":
        r = outcome.rules
        dlt = cfg.outcome("dlt")
        rule = (f"3+3 rule: at most {r.escalate_max_dlt} DLT among {r.cohort_size} evaluable subjects: escalate; "
                f"at least {r.stop_min_dlt} DLTs among {r.cohort_size}-{r.expanded_size}: dose too toxic, stop; "
                f"otherwise expand to {r.expanded_size}. MTD: the highest dose with at most {r.mtd_max_dlt} DLT "
                f"among at least {r.mtd_min_evaluable} evaluable subjects, else not determined")
        return [Result("MTD", outcome.title, rule,
                       f"sdtmgen.report.dlt: DLT counts per dose level ({cfg.groups.order_variable}) among "
                       f"{cfg.populations.dlt_evaluable} = Y, the decision of each level by the rule above.",
                       used=[Used("ADAE", [(dlt.flag, "Y")], [dlt.flag]),
                             Used("ADSL", [(cfg.populations.dlt_evaluable, "Y")], [cfg.groups.order_variable])])]
    if kind == "ae_summary":
        te = outcome.treatment_emergent
        return [Result(w.flag, f"{outcome.title}, {w.label}", proportion,
                       f"sdtmgen.report.incidence: subjects of the safety population with ADAE records "
                       f"{w.flag} = Y{f', {te} = Y' if te else ''}, counted once at their worst {outcome.grade}, "
                       f"any / serious ({outcome.serious}) / by {outcome.soc} and {outcome.term}, by {group}.",
                       used=[Used("ADAE", [(w.flag, "Y"), *([(te, "Y")] if te else [])],
                                  [outcome.grade, outcome.serious, outcome.soc, outcome.term]), safety])
                for w in outcome.windows]
    return []


def _defined(ctx: DefineContext, dataset: str, variable: str) -> bool:
    spec = ctx.specs.get(dataset)
    return dataset in ctx.datasets and spec is not None and any(v.name == variable for v in spec.variables)


def _where_clause(ctx: DefineContext, oid: str, dataset: str, where: list[tuple[str, str]]) -> etree._Element:
    clause = etree.Element(define("WhereClauseDef"), OID=oid)
    for variable, value in where:
        check = etree.SubElement(clause, odm("RangeCheck"), Comparator="EQ", SoftHard="Soft")
        check.set(define("ItemOID"), item_oid(dataset, variable))
        etree.SubElement(check, odm("CheckValue")).text = clean(value)
    return clause


def analysis_results(ctx: DefineContext, cfg: Any) -> tuple[list[etree._Element], list[etree._Element],
                                                           etree._Element | None]:
    """(WhereClauseDefs, def:leaf elements, arm:AnalysisResultDisplays or None) for the ADaM define."""
    clauses: list[etree._Element] = []
    leaves: list[etree._Element] = []
    displays = etree.Element(arm("AnalysisResultDisplays"), nsmap={"arm": ARM_NS})
    memo: dict = {}
    for outcome in sorted(cfg.outcomes, key=lambda o: o.number):
        rd_oid = f"RD.OUTCOME_{outcome.number:02d}"
        results = []
        for result in _results(outcome, cfg, ctx.datasets, memo):
            used = [u for u in result.used if u.dataset in ctx.datasets and u.dataset in ctx.specs]
            if not used or used[0].dataset != result.used[0].dataset:
                continue  # the dataset the result is computed from is not in this package
            if any(not _defined(ctx, u.dataset, v) for u in used for v, _ in u.where):
                ctx.warn("DEFINE-ARM", used[0].dataset, f"outcome {outcome.number} ({result.key}): a selection "
                         "variable is not in the ADaM spec; the result is not described in define.xml")
                continue
            results.append((result, used))
        if not results:
            continue
        display = etree.SubElement(displays, arm("ResultDisplay"), OID=rd_oid, Name=f"Outcome {outcome.number}")
        translated(display, odm("Description"), outcome.title)
        if cfg.rtf_tables:
            leaf_id = f"LF.RTF.OUTCOME_{outcome.number:02d}"
            leaves.append(leaf(leaf_id, RTF_HREF.format(number=outcome.number),
                               f"RTF table outcome_{outcome.number:02d}.rtf"))
            etree.SubElement(display, define("DocumentRef"), leafID=leaf_id)
        purpose = PURPOSES[getattr(outcome, "purpose", "primary")]
        for result, used in results:
            ar_oid = f"{rd_oid.replace('RD.', 'AR.', 1)}.{part(result.key)}"
            element = etree.SubElement(display, arm("AnalysisResult"), OID=ar_oid)
            if result.parameter is not None and _defined(ctx, used[0].dataset, "PARAMCD"):
                element.set("ParameterOID", item_oid(used[0].dataset, "PARAMCD"))
            element.set("AnalysisReason", REASON)
            element.set("AnalysisPurpose", purpose)
            translated(element, odm("Description"), result.description)
            holder = etree.SubElement(element, arm("AnalysisDatasets"))
            for u in used:
                dataset = etree.SubElement(holder, arm("AnalysisDataset"), ItemGroupOID=item_group_oid(u.dataset))
                if u.where:
                    wc_oid = f"WC.{ar_oid}.{u.dataset}"
                    clauses.append(_where_clause(ctx, wc_oid, u.dataset, u.where))
                    etree.SubElement(dataset, define("WhereClauseRef"), WhereClauseOID=wc_oid)
                for variable in dict.fromkeys(u.variables):
                    if _defined(ctx, u.dataset, variable):
                        etree.SubElement(dataset, arm("AnalysisVariable"), ItemOID=item_oid(u.dataset, variable))
            documentation = etree.SubElement(element, arm("Documentation"))
            translated(documentation, odm("Description"), f"Method: {result.method}.")
            code = etree.SubElement(element, arm("ProgrammingCode"), Context=CONTEXT)
            etree.SubElement(code, arm("Code")).text = clean(result.code)
    if not len(displays):
        return clauses, leaves, None
    return clauses, leaves, displays
