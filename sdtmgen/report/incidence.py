"""Incidences: subjects with at least one qualifying record / safety population, by group and overall.

Outcome kinds: ``ae_summary`` (AEs and SAEs in the ADAE windows: any, by worst CTCAE grade,
grade >= severe, by SOC and PT), ``event_incidence`` (ADAE flag, record starting on window days),
``lab_incidence`` (ADLB flag on window days, per PARAMCD) and ``subject_flags`` (ADSL flags).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from sdtmgen.report.ard import Ard
from sdtmgen.spec.report import AeSummary, EventIncidence, LabIncidence, ReportConfig, SubjectFlags
from sdtmgen.report.data import (Inputs, distinct_texts, is_y, iso_to_sas, per_distinct, relative_day, require,
                                 text_is)


def add_incidence(ard: Ard, inputs: Inputs, outcome: int, analysis: str, analysis_label: str, variable: str,
                  records: pd.DataFrame, *, variable_level: str = "Y", variable_label: str = "",
                  group2: str = "", group2_level: str = "", count_events: bool = False) -> None:
    """n/N/pct for every level; ``records`` hold USUBJID and GROUP of the qualifying records (``group_of``)."""
    add_counts(ard, inputs, outcome, analysis, analysis_label, variable, level_counts(inputs, records),
               variable_level=variable_level, variable_label=variable_label, group2=group2,
               group2_level=group2_level, count_events=count_events)


Counts = dict[str, tuple[int, int]]  # level -> (subjects, records)


def level_counts(inputs: Inputs, records: pd.DataFrame) -> Counts:
    """(distinct non-missing USUBJID, records) per level, from the subjects' codes: no frame copied per level."""
    group = records["GROUP"].to_numpy()
    subject = pd.factorize(records["USUBJID"])[0]  # missing: -1, not a subject
    counts = {}
    for level in inputs.levels:
        hits = subject if level == inputs.overall else subject[group == level]
        counts[level] = (len(np.unique(hits[hits >= 0])), len(hits))
    return counts


def counts_by(inputs: Inputs, records: pd.DataFrame, keys: list[str]) -> dict[tuple[str, ...], Counts]:
    """``level_counts`` for every combination of the (text) values of ``keys``, in one grouping.

    Records with a missing key are left out; combinations without records are absent.
    """
    frame = records.dropna(subset=keys)
    # each key made text once per distinct value; the combinations counted on integer codes
    key = np.zeros(len(frame), dtype=np.int64)
    parts: list[np.ndarray] = []
    for k in keys:
        codes, uniques = pd.factorize(frame[k])
        text_codes, texts = pd.factorize(pd.Series(np.asarray(uniques, dtype=object), dtype=object).astype(str))
        row_codes = text_codes[codes]
        key = _dense(key * len(texts) + row_codes)
        parts.append(np.asarray(texts, dtype=object)[row_codes])
    group_codes, levels = pd.factorize(frame["GROUP"].to_numpy())
    subject = pd.factorize(frame["USUBJID"])[0]  # missing: -1, counted in the size, not as a subject
    width = int(subject.max(initial=0)) + 1
    out: dict[tuple[str, ...], Counts] = {}
    for by_level in (True, False):
        rows = np.flatnonzero(group_codes >= 0) if by_level else np.arange(len(frame))
        combo = _dense(key[rows] * len(levels) + group_codes[rows]) if by_level else key
        first, size = np.unique(combo, return_index=True, return_counts=True)[1:]
        known = subject[rows] >= 0
        pairs = np.unique(combo[known] * width + subject[rows][known])
        subjects = np.bincount(pairs // width, minlength=len(first))
        for at, n_subjects, n in zip(rows[first], subjects, size):
            level = levels[group_codes[at]] if by_level else inputs.overall
            out.setdefault(tuple(part[at] for part in parts), {})[level] = (int(n_subjects), int(n))
    return out


def _dense(key: np.ndarray) -> np.ndarray:
    """Codes renumbered 0..k-1 in sorted order (the next key column multiplies them without overflow)."""
    return np.unique(key, return_inverse=True)[1].reshape(-1).astype(np.int64)


def add_counts(ard: Ard, inputs: Inputs, outcome: int, analysis: str, analysis_label: str, variable: str,
               counts: Counts, *, variable_level: str = "Y", variable_label: str = "", group2: str = "",
               group2_level: str = "", count_events: bool = False) -> None:
    """n/N/pct rows for every level from counts (a level without records counts 0)."""
    for level in inputs.levels:
        subjects, records = counts.get(level, (0, 0))
        ard.add_proportion(outcome, analysis, analysis_label, level, variable, subjects, inputs.size(level),
                           variable_level=variable_level, variable_label=variable_label, group2=group2,
                           group2_level=group2_level, events=records if count_events else None)


def in_window(days: pd.Series, cfg: ReportConfig) -> pd.Series:
    values = pd.to_numeric(days, errors="coerce")
    return values.ge(cfg.window.first_day) & values.le(cfg.window.last_day)


def window_text(cfg: ReportConfig) -> str:
    return f"days {cfg.window.first_day}-{cfg.window.last_day} from {cfg.window.anchor}"


def ae_summary(ard: Ard, inputs: Inputs, outcome: AeSummary) -> None:
    ae = inputs.group_of(inputs.adae)
    if outcome.treatment_emergent:
        ae = ae[is_y(ae[outcome.treatment_emergent])]
    grade = pd.to_numeric(ae[outcome.grade], errors="coerce")
    ae = ae.assign(_GRADE=grade)
    for window in outcome.windows:
        in_win = ae[is_y(ae[window.flag])]
        kinds = [("AE", in_win, "Adverse events"), ("SAE", in_win[is_y(in_win[outcome.serious])], "Serious adverse events")]
        if outcome.related is not None:
            rel = outcome.related
            related = per_distinct(in_win[rel.variable], lambda u: u.astype("string[pyarrow]").str.strip().str.upper()
                                   .isin([v.upper() for v in rel.values]).fillna(False))
            kinds.append(("RELAE", in_win[related.to_numpy(bool)],
                          f"Adverse events {rel.label} ({rel.variable} {'/'.join(rel.values)})"))
        for kind, subset, text in kinds:
            analysis = f"{kind}.{window.flag}"
            label = f"{text}, {window.label}"
            add_incidence(ard, inputs, outcome.number, analysis, label, "ANY", subset,
                          variable_label=f"Subjects with any {'related AE' if kind == 'RELAE' else kind}",
                          count_events=True)
            worst = subset.groupby("USUBJID", sort=True, observed=True)["_GRADE"].max()
            for g in outcome.grades:
                ids = worst.index[worst.eq(float(g))]
                add_incidence(ard, inputs, outcome.number, analysis, label, outcome.grade,
                              subset[subset["USUBJID"].isin(ids)], variable_level=g,
                              variable_label=f"Worst CTCAE grade {g}")
            if worst.isna().any():
                ids = worst.index[worst.isna()]
                add_incidence(ard, inputs, outcome.number, analysis, label, outcome.grade,
                              subset[subset["USUBJID"].isin(ids)], variable_level="",
                              variable_label="Worst CTCAE grade missing")
            add_incidence(ard, inputs, outcome.number, analysis, label, outcome.grade,
                          subset[subset["_GRADE"] >= outcome.severe_grade],
                          variable_level=f">={outcome.severe_grade}",
                          variable_label=f"Any CTCAE grade >= {outcome.severe_grade}")
            by_soc = counts_by(inputs, subset, [outcome.soc])
            by_term = counts_by(inputs, subset, [outcome.soc, outcome.term])
            for soc in distinct_texts(subset[outcome.soc]):
                add_counts(ard, inputs, outcome.number, analysis, label, outcome.soc, by_soc[(soc,)],
                           variable_level=soc, variable_label=soc)
                for term in sorted(t for s, t in by_term if s == soc):
                    add_counts(ard, inputs, outcome.number, analysis, label, outcome.term, by_term[(soc, term)],
                               variable_level=term, variable_label=term, group2=outcome.soc, group2_level=soc)


def event_incidence(ard: Ard, inputs: Inputs, outcome: EventIncidence, cfg: ReportConfig) -> None:
    ae = inputs.group_of(inputs.adae)
    hits = ae[is_y(ae[outcome.flag]) & in_window(ae[cfg.ae_day], cfg)]
    add_incidence(ard, inputs, outcome.number, outcome.flag, f"{outcome.title} ({window_text(cfg)})",
                  outcome.flag, hits, variable_label=outcome.label or f"Subjects with {outcome.flag} = Y",
                  count_events=True)


def lab_incidence(ard: Ard, inputs: Inputs, outcome: LabIncidence, cfg: ReportConfig) -> None:
    lb = inputs.adlb
    for paramcd in outcome.paramcds:
        param = inputs.group_of(lb[text_is(lb["PARAMCD"], paramcd)])  # the parameter's rows first: fewer to copy
        for i, flag in enumerate(outcome.flags):
            if i and len(param) and not param[flag].notna().any():
                continue  # an extra criterion ADaM does not define for this parameter
            # (with no record of the parameter at all every listed flag is reported, as 0/N)
            rows = param[is_y(param[flag]) & in_window(param[cfg.lab_day], cfg)]
            criterion = _criterion_text(inputs.adlb, paramcd, flag) or f"{paramcd} {flag} = Y"
            add_incidence(ard, inputs, outcome.number, f"{paramcd}.{flag}",
                          f"{outcome.title}: {criterion} ({window_text(cfg)})",
                          flag, rows, variable_label=f"Subjects with {criterion}",
                          group2="PARAMCD", group2_level=paramcd)


def _criterion_text(adlb: pd.DataFrame, paramcd: str, flag: str) -> str:
    """The ADLB criterion text (CRIT1 for CRIT1FL) when ADaM provides it."""
    column = flag[:-2] if flag.endswith("FL") else ""
    if column not in adlb.columns:
        return ""
    values = distinct_texts(adlb.loc[text_is(adlb["PARAMCD"], paramcd), column])
    return "; ".join(v for v in values if v.strip())


def subject_flags(ard: Ard, inputs: Inputs, outcome: SubjectFlags, cfg: ReportConfig | None = None) -> None:
    adsl = inputs.group_of(inputs.adsl)
    for item in outcome.flags:
        hits = adsl[is_y(adsl[item.flag])]
        add_incidence(ard, inputs, outcome.number, item.flag, f"{outcome.title}: {item.label}", item.flag, hits,
                      variable_label=f"{item.label} ({item.flag} = Y)")
    if outcome.medications is not None and cfg is not None:
        medication_split(ard, inputs, outcome, cfg)
    if outcome.counts is not None and cfg is not None:
        record_counts(ard, inputs, outcome, cfg)


def record_counts(ard: Ard, inputs: Inputs, outcome: SubjectFlags, cfg: ReportConfig) -> None:
    """Episodes (distinct subject, type and day) and summed amounts per subject, over every safety subject."""
    from sdtmgen.report.durations import summary_stats

    c = outcome.counts
    assert c is not None
    require(inputs.cm, "CM", ["USUBJID", c.category_variable, c.date, c.type_variable, c.amount, c.amount_unit])
    cm = inputs.group_of(inputs.cm)
    cm = cm[text_is(cm[c.category_variable], c.category).to_numpy(bool)]
    date = iso_to_sas(cm[c.date])
    day = relative_day(date, cm["ANCHOR"])
    inside = (day >= cfg.window.first_day) & (day <= cfg.window.last_day)
    undated = int(np.isnan(day).sum())
    cm, date = cm[inside], date[inside]
    kind = (cm[c.type_variable].astype("string[pyarrow]").str.strip().to_numpy(object) if c.type_variable
            else np.full(len(cm), "", dtype=object))
    records = pd.DataFrame({"USUBJID": cm["USUBJID"].astype(str).to_numpy(), "TYPE": kind,
                            "DATE": date.to_numpy(float),
                            "AMOUNT": (pd.to_numeric(cm[c.amount], errors="coerce").to_numpy(float) if c.amount
                                       else np.zeros(len(cm)))})
    units = distinct_texts(cm[c.amount_unit]) if c.amount_unit else []
    unit = " / ".join(units) if units else ""
    note = f"; {undated} record(s) without a complete start date not counted" if undated else ""
    label = (f"{outcome.title}: {c.label} per subject ({c.category_variable} = {c.category}, one episode per "
             f"subject, product and day; {window_text(cfg)}{note}; every safety subject, 0 without any)")
    kinds = [("", "Any")] + [(t.value, t.label) for t in c.types]
    subjects = inputs.subjects["USUBJID"].to_numpy(object)
    for value, text in kinds:
        chosen = records if not value else records[records["TYPE"] == value]
        episodes = chosen.drop_duplicates(["USUBJID", "TYPE", "DATE"]).groupby("USUBJID").size()
        amounts = chosen.groupby("USUBJID")["AMOUNT"].sum(min_count=1)
        per_subject = pd.DataFrame({"USUBJID": subjects,
                                    "EPISODES": episodes.reindex(subjects, fill_value=0).to_numpy(float),
                                    "AMOUNT": amounts.reindex(subjects).fillna(0).to_numpy(float)})
        variables = [("EPISODES", f"{text}: {c.label} per subject")]
        if c.amount:
            what = c.amount_label or c.amount
            variables.append(("AMOUNT", f"{text}: total {what}{f' ({unit})' if unit else ''} per subject"))
        for level in inputs.levels:
            members = inputs.members(level)["USUBJID"]
            rows = per_subject[per_subject["USUBJID"].isin(members)]
            for variable, variable_label in variables:
                values = rows[variable].to_numpy(float)
                stats = {"N": len(values), "sum": float(values.sum()), **summary_stats(values)}
                for name, number in stats.items():
                    ard.add(outcome.number, "COUNTS", label, level, variable, name,
                            int(number) if name == "N" else number, variable_level=value or "ANY",
                            variable_label=variable_label, context="continuous",
                            stat_label={"N": "N (subjects)", "sum": "Total"}.get(name),
                            warning="mixed units" if variable == "AMOUNT" and len(units) > 1 else "")


PURPOSES = ("Prophylaxis", "Treatment", "Indication not recorded")


def medication_records(inputs: Inputs, outcome: SubjectFlags, cfg: ReportConfig) -> tuple[pd.DataFrame, int]:
    """CM records of the counted classes starting on window days, with CLASS and PURPOSE; and how many
    records of those classes had no complete start date."""
    m = outcome.medications
    assert m is not None
    require(inputs.cm, "CM", ["USUBJID", m.class_variable, m.date, m.indication])
    cm = inputs.group_of(inputs.cm)
    code = cm[m.class_variable].astype("string[pyarrow]").str.strip().str.upper()
    counted = code.str.startswith(tuple(p.upper() for p in m.prefixes)).fillna(False).to_numpy(bool)
    cm, code = cm[counted], code[counted]
    day = relative_day(iso_to_sas(cm[m.date]), cm["ANCHOR"])
    undated = int(np.isnan(day).sum())
    inside = (day >= cfg.window.first_day) & (day <= cfg.window.last_day)
    cm, code = cm[inside], code[inside]
    purpose = pd.Series(PURPOSES[2], index=cm.index, dtype=object)
    if m.indication:
        text = cm[m.indication].astype("string[pyarrow]").str.strip().str.upper()
        words = "|".join(re.escape(w.upper()) for w in m.prophylaxis_words)
        purpose = np.where(text.str.contains(words, regex=True).fillna(False).to_numpy(bool), PURPOSES[0],
                           np.where(text.fillna("").eq("").to_numpy(bool), PURPOSES[2], PURPOSES[1]))
    records = cm.assign(CLASS=code.str.slice(0, m.class_length).to_numpy(object), PURPOSE=purpose)
    return records, undated


def medication_split(ard: Ard, inputs: Inputs, outcome: SubjectFlags, cfg: ReportConfig) -> None:
    m = outcome.medications
    assert m is not None
    records, undated = medication_records(inputs, outcome, cfg)
    codes = ", ".join(m.prefixes)
    note = f"; {undated} record(s) without a complete start date not counted" if undated else ""
    label = f"{outcome.title}: {m.label} by class ({m.class_variable} starting with {codes}; {window_text(cfg)}{note})"
    by_class = counts_by(inputs, records, ["CLASS"])
    # no record counted (e.g. a CM form with no rows): the result reads 0/N for each class the report
    # names (or each prefix), rather than disappearing from the ARD
    classes = sorted(c for (c,) in by_class) or sorted(m.class_labels) or [p.upper() for p in m.prefixes]
    for cls in classes:
        text = m.class_labels.get(cls, cls)
        add_counts(ard, inputs, outcome.number, "CLASS", label, m.class_variable, by_class.get((cls,), {}),
                   variable_level=cls, variable_label=f"{cls} {text}" if text != cls else cls, count_events=True)
    if not m.indication:
        return
    label = (f"{outcome.title}: {m.label} by purpose ({m.indication} naming "
             f"{' / '.join(w.lower() for w in m.prophylaxis_words)} = prophylaxis; {window_text(cfg)})")
    by_purpose = counts_by(inputs, records, ["PURPOSE"])
    by_both = counts_by(inputs, records, ["PURPOSE", "CLASS"])
    for purpose in PURPOSES:
        if (purpose,) not in by_purpose and purpose == PURPOSES[2]:
            continue
        add_counts(ard, inputs, outcome.number, "PURPOSE", label, m.indication, by_purpose.get((purpose,), {}),
                   variable_level=purpose, variable_label=purpose, count_events=True)
        for cls in sorted(c for p, c in by_both if p == purpose):
            text = m.class_labels.get(cls, cls)
            add_counts(ard, inputs, outcome.number, "PURPOSE", label, m.class_variable, by_both[(purpose, cls)],
                       variable_level=cls, variable_label=f"{cls} {text}" if text != cls else cls,
                       group2=m.indication, group2_level=purpose, count_events=True)
