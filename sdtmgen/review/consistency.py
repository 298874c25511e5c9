"""Consistency: values that contradict another value of the same subject or record."""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from sdtmgen.review.registry import ReviewContext, ReviewHit, distinct_days, register_check


def _is(values: pd.Series, text: str) -> np.ndarray:
    return (values.astype("string[pyarrow]").str.upper() == text).fillna(False).to_numpy(dtype=bool)


def _present(values: pd.Series) -> np.ndarray:
    text = values.astype("string[pyarrow]").str.strip()
    return (text.notna() & (text != "")).to_numpy(dtype=bool)


def _date_column(name: str, frame: pd.DataFrame) -> str | None:
    return next((c for c in (f"{name}DTC", f"{name}STDTC", "SVSTDTC") if c in frame.columns), None)


@register_check("DR-AFTER-DEATH", "warning", "record dated after the subject's death (DM.DTHDTC)")
def after_death(ctx: ReviewContext) -> Iterable[ReviewHit]:
    dm = ctx.datasets.get("DM")
    if dm is None or "DTHDTC" not in dm:
        return
    died = _present(dm["DTHDTC"])
    if not died.any():
        return
    death_day = pd.Series(distinct_days(dm.loc[died, "DTHDTC"]), index=dm.loc[died, "USUBJID"].astype(object))
    death_text = pd.Series(dm.loc[died, "DTHDTC"].astype(str).to_numpy(), index=death_day.index)
    for name, frame in sorted(ctx.datasets.items()):
        if name in ("DM", "DS") or name.startswith("SUPP") or "USUBJID" not in frame:
            continue
        column = _date_column(name, frame)
        if column is None:
            continue
        # only the records of subjects who died are dated
        dead_row = _dead_subject_rows(frame["USUBJID"], death_day)
        if dead_row is None:
            of_dead = frame["USUBJID"].isin(death_day.index).to_numpy(dtype=bool)
            if not of_dead.any():
                continue
            died_on = death_day.reindex(frame.loc[of_dead, "USUBJID"].astype(object).to_numpy()).to_numpy()
        else:
            of_dead = dead_row >= 0
            if not of_dead.any():
                continue
            died_on = death_day.to_numpy()[dead_row[of_dead]]
        later = distinct_days(frame.loc[of_dead, column]) > died_on  # NaN: False
        subjects = frame.loc[of_dead, "USUBJID"].iloc[np.flatnonzero(later)].astype(object).to_numpy()
        mask = np.zeros(len(frame), dtype=bool)
        mask[np.flatnonzero(of_dead)[later]] = True
        if mask.any():
            yield ReviewHit(name, column, mask, pd.Series("DTHDTC " + death_text.reindex(subjects).to_numpy()))


def _dead_subject_rows(subjects: pd.Series, death_day: pd.Series) -> np.ndarray | None:
    """Per record, the row of its subject in ``death_day`` (-1: did not die), by Arrow's hash lookup; None for
    other than Arrow text, or a dead subject listed twice or missing (then pandas' lookup decides as before)."""
    if (not isinstance(subjects.array, pd.arrays.ArrowStringArray) or not death_day.index.is_unique
            or death_day.index.hasnans):
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    target = pa.array(subjects.array)
    dead = pa.array(list(death_day.index), type=target.type, from_pandas=True)
    found = pc.index_in(target, value_set=dead, skip_nulls=True)
    return pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)


@register_check("DR-AE-ONGOING-END", "warning", "AE collected as ongoing but has an end date")
def ongoing_with_end(ctx: ReviewContext) -> Iterable[ReviewHit]:
    ae = ctx.datasets.get("AE")
    if ae is None or "AEENDTC" not in ae:
        return
    ongoing = np.zeros(len(ae), dtype=bool)
    for column in ("AEENRTPT", "AEENRF"):
        if column in ae:
            ongoing |= _is(ae[column], "ONGOING")
    mask = ongoing & _present(ae["AEENDTC"])
    yield ReviewHit("AE", "AEENDTC", mask, pd.Series(["ongoing (AEENRTPT ONGOING)"] * int(mask.sum()), dtype=object))


@register_check("DR-AE-FATAL", "warning", "AE outcome FATAL and 'results in death' (AESDTH) disagree")
def fatal_outcome(ctx: ReviewContext) -> Iterable[ReviewHit]:
    ae = ctx.datasets.get("AE")
    if ae is None or not {"AEOUT", "AESDTH"} <= set(ae.columns):
        return
    fatal, death = _is(ae["AEOUT"], "FATAL"), _is(ae["AESDTH"], "Y")
    mask = fatal != death
    if not mask.any():
        return
    out = ae.loc[mask, "AEOUT"].astype("string[pyarrow]").fillna("").astype(str).to_numpy()
    yield ReviewHit("AE", "AESDTH", mask, pd.Series("AEOUT " + out, dtype=object))


@register_check("DR-DM-NO-CONSENT", "warning", "subject without an informed consent date (DM.RFICDTC)")
def no_consent(ctx: ReviewContext) -> Iterable[ReviewHit]:
    dm = ctx.datasets.get("DM")
    if dm is None or "RFICDTC" not in dm:
        return
    yield ReviewHit("DM", "RFICDTC", ~_present(dm["RFICDTC"]))


@register_check("DR-NOTDONE-RESULT", "warning", "test recorded as NOT DONE (--STAT) but a result is present")
def not_done_with_result(ctx: ReviewContext) -> Iterable[ReviewHit]:
    for name, frame in sorted(ctx.datasets.items()):
        stat, result = f"{name}STAT", f"{name}ORRES"
        if stat in frame and result in frame:
            mask = _is(frame[stat], "NOT DONE")
            if mask.any():  # a result is looked for on the NOT DONE records only
                mask[mask] = _present(frame[result][mask])
            yield ReviewHit(name, result, mask)


@register_check("DR-EX-LEVELS", "warning", "subject dosed at more than one dose (a later infusion differs from "
                                          "the first)")
def dose_changes(ctx: ReviewContext) -> Iterable[ReviewHit]:
    ex = ctx.datasets.get("EX")
    if ex is None or not {"USUBJID", "EXDOSE"} <= set(ex.columns):
        return
    dose = pd.to_numeric(ex["EXDOSE"], errors="coerce")
    order = ex["EXSTDTC"].astype("string[pyarrow]").fillna("") if "EXSTDTC" in ex else pd.Series("", index=ex.index)
    frame = pd.DataFrame({"s": ex["USUBJID"].astype("string[pyarrow]"), "t": order, "d": dose}).dropna(subset=["d"])
    frame = frame[frame["d"] > 0].sort_values(["s", "t"], kind="stable")
    first = frame.groupby("s")["d"].transform("first")
    differs = frame.index[(frame["d"] != first).to_numpy()]
    mask = ex.index.isin(differs)
    if mask.any():
        firsts = first.reindex(ex.index[mask]).to_numpy()
        yield ReviewHit("EX", "EXDOSE", mask, pd.Series([f"first infusion was {d:g}" for d in firsts], dtype=object))
