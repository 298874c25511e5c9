"""Plausibility: values that cannot be right whatever else was collected."""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from sdtmgen.review.registry import ReviewContext, ReviewHit, register_check

_NON_FINITE_TEXT = r"^\s*[+-]?(?:nan|inf|infinity)\s*$"

#: a month, in days, for thresholds given in months
MONTH_DAYS = 30.4375


def _numbers(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)


def _fmt(values: np.ndarray) -> pd.Series:
    return pd.Series([f"{v:g}" for v in values], dtype=object)


@register_check("DR-LB-NEGATIVE", "warning", "negative lab result")
def negative_lab_result(ctx: ReviewContext) -> Iterable[ReviewHit]:
    lb = ctx.datasets.get("LB")
    if lb is None or "LBSTRESN" not in lb:
        return
    result = _numbers(lb["LBSTRESN"])
    mask = np.isfinite(result) & (result < 0)
    if mask.any():
        shown = lb.loc[mask, "LBTESTCD"].astype(str).reset_index(drop=True) + " " + \
            lb.loc[mask, "LBORRES"].astype(str).reset_index(drop=True)
        yield ReviewHit("LB", "LBORRES", mask, shown + " (counts and concentrations cannot be negative)")


@register_check("DR-LB-NONFINITE", "warning", "lab result is not a finite number (NaN or infinity)")
def non_finite_lab_result(ctx: ReviewContext) -> Iterable[ReviewHit]:
    lb = ctx.datasets.get("LB")
    if lb is None:
        return
    text = lb["LBORRES"].astype("string[pyarrow]")
    # the pattern tested once per distinct result, and only the records of matching ones looked up
    distinct = pd.Series(text.unique()).dropna()
    matching = distinct[distinct.str.contains(_NON_FINITE_TEXT, case=False, regex=True).to_numpy(dtype=bool)]
    mask = text.isin(matching).fillna(False).to_numpy(dtype=bool) if len(matching) else np.zeros(len(lb), dtype=bool)
    if "LBSTRESN" in lb:
        result = _numbers(lb["LBSTRESN"])
        mask |= np.isinf(result)
    if mask.any():
        yield ReviewHit("LB", "LBORRES", mask, lb.loc[mask, "LBTESTCD"].astype(str).reset_index(drop=True))


@register_check("DR-DM-BRTHDTC", "warning", "implausible birth date (before the limit year, default 1900, "
                                           "or after informed consent)")
def birth_date(ctx: ReviewContext) -> Iterable[ReviewHit]:
    dm = ctx.datasets.get("DM")
    if dm is None or "BRTHDTC" not in dm:
        return
    year = pd.to_numeric(dm["BRTHDTC"].astype("string[pyarrow]").str.slice(0, 4), errors="coerce").to_numpy(dtype=float)
    too_early = year < ctx.limit(1900)
    birth = ctx.days("DM", "BRTHDTC")
    consent = ctx.days("DM", "RFICDTC") if "RFICDTC" in dm else np.full(len(dm), np.nan)
    too_late = birth > consent
    mask = too_early | too_late
    if not mask.any():
        return
    detail = pd.Series(np.where(too_early[mask], "year before " + f"{ctx.limit(1900):g}",
                                "after informed consent " + dm.loc[mask, "RFICDTC"].astype(str).to_numpy()
                                if "RFICDTC" in dm else "after informed consent"), dtype=object)
    yield ReviewHit("DM", "BRTHDTC", mask, detail)


@register_check("DR-DM-AGE", "warning", "AGE disagrees with BRTHDTC at informed consent (more than the limit, "
                                       "default 1 year)")
def age_matches_birth(ctx: ReviewContext) -> Iterable[ReviewHit]:
    dm = ctx.datasets.get("DM")
    if dm is None or not {"AGE", "BRTHDTC"} <= set(dm.columns):
        return
    reference = next((c for c in ("RFICDTC", "RFSTDTC") if c in dm), None)
    if reference is None:
        return
    birth_year = pd.to_numeric(dm["BRTHDTC"].astype("string[pyarrow]").str.slice(0, 4), errors="coerce").to_numpy(dtype=float)
    birth, at = ctx.days("DM", "BRTHDTC"), ctx.days("DM", reference)
    ref_year = pd.to_numeric(dm[reference].astype("string[pyarrow]").str.slice(0, 4), errors="coerce").to_numpy(dtype=float)
    # complete dates: whole years lived; a year only: the age is known to within a year
    exact = np.floor((at - birth) / 365.2425)
    expected = np.where(np.isnan(exact), ref_year - birth_year, exact)
    age = _numbers(dm["AGE"])
    tolerance = ctx.limit(1) + np.where(np.isnan(exact), 1, 0)
    mask = np.isfinite(age) & np.isfinite(expected) & (np.abs(age - expected) > tolerance)
    if not mask.any():
        return
    detail = ("AGE " + _fmt(age[mask]) + " but BRTHDTC " + dm.loc[mask, "BRTHDTC"].astype(str).to_numpy() +
              " gives " + _fmt(expected[mask]) + f" at {reference} " + dm.loc[mask, reference].astype(str).to_numpy())
    yield ReviewHit("DM", "AGE", mask, detail)


@register_check("DR-EX-DOSE-MISSING", "warning", "dose missing, zero or negative")
def dose_missing(ctx: ReviewContext) -> Iterable[ReviewHit]:
    ex = ctx.datasets.get("EX")
    if ex is None or "EXDOSE" not in ex:
        return
    dose = _numbers(ex["EXDOSE"])
    yield ReviewHit("EX", "EXDOSE", ~(dose > 0))


def planned_doses(ctx: ReviewContext) -> tuple[pd.Series, str]:
    """Planned dose of each EX record's arm: the study's ``planned`` doses per ARMCD, else the arm's
    most common dose (ties: the lower)."""
    ex = ctx.datasets["EX"]
    arm = ctx.subject_values("EX", "ARMCD").astype("string[pyarrow]")
    planned = ctx.planned()
    if planned:
        return arm.map(planned).astype(float), "planned"
    dose = pd.Series(_numbers(ex["EXDOSE"]))
    frame = pd.DataFrame({"arm": arm, "dose": dose}).dropna()
    frame = frame[frame["dose"] > 0]
    if frame.empty:
        return pd.Series(np.nan, index=range(len(ex))), "usual"
    counts = frame.groupby(["arm", "dose"]).size().rename("n").reset_index()
    usual = counts.sort_values(["arm", "n", "dose"], ascending=[True, False, True]).drop_duplicates("arm")
    return arm.map(dict(zip(usual["arm"], usual["dose"]))).astype(float), "usual"


@register_check("DR-EX-DOSE-PLANNED", "warning", "dose above the planned dose of the subject's dose level (ARMCD)")
def dose_over_planned(ctx: ReviewContext) -> Iterable[ReviewHit]:
    ex = ctx.datasets.get("EX")
    if ex is None or "EXDOSE" not in ex or "DM" not in ctx.datasets or "ARMCD" not in ctx.datasets["DM"]:
        return
    dose = _numbers(ex["EXDOSE"])
    planned, how = planned_doses(ctx)
    planned = planned.to_numpy(dtype=float)
    mask = np.isfinite(dose) & np.isfinite(planned) & (dose > planned * (1 + 1e-9))
    if not mask.any():
        return
    arm = ctx.subject_values("EX", "ARMCD").astype(str).to_numpy()
    detail = "EXDOSE " + _fmt(dose[mask]) + f" over the {how} dose " + _fmt(planned[mask]) + " of " + arm[mask]
    yield ReviewHit("EX", "EXDOSE", mask, detail)


@register_check("DR-LB-BEFORE-CONSENT", "warning", "lab sample taken long before informed consent (more than the "
                                                  "limit, default 1 month)")
def lab_before_consent(ctx: ReviewContext) -> Iterable[ReviewHit]:
    lb = ctx.datasets.get("LB")
    if lb is None or "DM" not in ctx.datasets or "RFICDTC" not in ctx.datasets["DM"] or "LBDTC" not in lb:
        return
    months = ctx.limit(1)
    gap = ctx.subject_days("LB", "RFICDTC") - ctx.days("LB", "LBDTC")
    mask = np.nan_to_num(gap, nan=-1) > months * MONTH_DAYS
    if not mask.any():
        return
    consent = ctx.subject_values("LB", "RFICDTC").astype(str).to_numpy()
    detail = pd.Series([f"{d / MONTH_DAYS:.1f} months before consent {c}" for d, c in zip(gap[mask], consent[mask])],
                       dtype=object)
    yield ReviewHit("LB", "LBDTC", mask, detail)


_CONTROL = "[\\x00-\\x1f\\x7f]"


def _any_control_byte(array) -> bool:
    """Whether the UTF-8 bytes of a text column hold a byte below 0x20 or 0x7F (no false negatives;
    bytes of a slice's neighbours may give a false positive, which the exact test then clears)."""
    for chunk in array.chunks:
        data = chunk.buffers()[2] if len(chunk.buffers()) > 2 else None
        if data is not None and data.size:
            raw = np.frombuffer(data, dtype=np.uint8)
            if raw.min() < 0x20 or (raw == 0x7F).any():  # two passes without a temporary of the first
                return True
    return False


#: mapping rules that can pass raw text through as it was collected (the others parse or look it up)
_TEXT_RULES = {"assign", "conditional", "codelist"}


def _copied_text(ctx: ReviewContext, name: str, frame: pd.DataFrame) -> list[str]:
    """Columns that may hold raw text as collected: targets of the text rules, and SUPP-- QVAL."""
    if ctx.spec is None:
        return list(frame.columns)
    if name.startswith("SUPP"):
        return [c for c in ("QVAL",) if c in frame.columns]
    domain = next((d for d in ctx.spec.domains if d.domain == name), None)
    if domain is None:
        return []
    targets = {t for source in domain.sources for t, rule in source.map.items()
               if getattr(rule, "rule", None) in _TEXT_RULES}
    return [c for c in frame.columns if c in targets]


@register_check("DR-TEXT-CONTROL", "warning", "text holds a control character (line feed, tab, ESC, BEL...)")
def control_characters(ctx: ReviewContext) -> Iterable[ReviewHit]:
    import pyarrow as pa
    import pyarrow.compute as pc

    for name, frame in sorted(ctx.datasets.items()):
        for column in _copied_text(ctx, name, frame):
            values = frame[column]
            if not (pd.api.types.is_string_dtype(values.dtype) and values.dtype != object):
                continue
            try:
                array = pa.chunked_array([pa.array(values.array)]) if not isinstance(
                    values.array, pd.arrays.ArrowStringArray) else values.array._pa_array
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
                continue
            if not _any_control_byte(array):  # the usual case: one pass over the text bytes
                continue
            coded = pc.dictionary_encode(array.combine_chunks())  # each distinct value tested once
            bad = pc.match_substring_regex(coded.dictionary, _CONTROL)
            if not pc.any(bad).as_py():
                continue
            mask = pc.fill_null(pc.take(bad, coded.indices), False).to_numpy(zero_copy_only=False)
            shown = values[mask].astype(str).map(lambda t: repr(t)[1:-1])  # only the offending records
            yield ReviewHit(name, column, mask, pd.Series(["as " + t for t in shown], dtype=object))
