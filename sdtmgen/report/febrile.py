"""Derived febrile-neutropenia check for data review, against the investigator-reported AE.

A fever is a body temperature (SDTM VS, ``testcd``, standard result) of at least ``single`` degrees
once, or at least ``sustained`` degrees held for ``sustained_minutes`` or more: a run of consecutive
readings of a subject all at or above ``sustained``, each within ``max_gap_minutes`` of the one
before, whose first and last readings are at least ``sustained_minutes`` apart (readings without a
time cannot show that). A derived febrile neutropenia is a fever on window days (counted from the
window anchor) with an ANC (ADLB ``paramcd``) below ``anc_below`` measured from ``anc_days_before``
days before to ``anc_days_after`` days after the fever's day.

Each subject of the safety population is then: derived and reported (the ADAE ``reported_flag`` on a
record starting on window days), derived only (a disagreement to review), reported only (another
one), or neither. The listing has one row per subject and fever day that qualifies, with the ANC that
matched, the reported FN and the AEs ongoing that day.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sdtmgen.dates import iso_sas_date
from sdtmgen.report.ard import Ard
from sdtmgen.spec.report import FebrileNeutropeniaCheck, ReportConfig
from sdtmgen.report.data import Inputs, is_y, relative_day, require, subject_positions, text_is
from sdtmgen.report.incidence import add_incidence, in_window, window_text

LISTING_COLUMNS = ["USUBJID", "GROUP", "FEVER_DTC", "FEVER_DAY", "TEMP", "FEVER_RULE", "ANC", "ANC_DAY",
                   "REPORTED_FN", "AES_THAT_DAY", "REVIEW"]
STATUS = {(True, True): "derived and reported", (True, False): "derived only: not reported as febrile neutropenia",
          (False, True): "reported only: not found in the labs and temperatures", (False, False): ""}


def fevers(vs: pd.DataFrame, check: FebrileNeutropeniaCheck) -> pd.DataFrame:
    """USUBJID, TEXT (the ISO date/time), DATE (SAS), TEMP and RULE of the readings that make a fever."""
    require(vs, "VS", ["USUBJID", check.testcd_variable, check.result, check.datetime])
    rows = np.flatnonzero(text_is(vs[check.testcd_variable], check.testcd).to_numpy(bool))
    temp = pd.to_numeric(vs[check.result].take(rows), errors="coerce").to_numpy(float)
    rows, temp = rows[~np.isnan(temp)], temp[~np.isnan(temp)]
    # ranks and order from the subjects' codes and the Arrow text, without a text object per reading; only
    # the readings at or above ``sustained`` are then taken (``position``: their place among all, in order)
    subject_codes, subject_texts = _subject_codes(vs["USUBJID"].take(rows))
    text = vs[check.datetime].take(rows).astype("string[pyarrow]").fillna("")
    order = np.lexsort((_sort_ranks(text.array), _sort_ranks(subject_texts)[subject_codes]))
    position = np.flatnonzero(temp[order] >= check.sustained)
    chosen = order[position]  # = sort_values(["USUBJID", "TEXT"], kind="stable"), then the warm ones
    frame = pd.DataFrame({"USUBJID": subject_texts[subject_codes[chosen]],
                          "TEXT": text.take(chosen).to_numpy(), "TEMP": temp[chosen]})
    text = frame["TEXT"].astype("string[pyarrow]")
    timed = text.str.len().fillna(0).ge(16).to_numpy(bool)
    stamp = pd.to_datetime(text.str.slice(0, 16), format="%Y-%m-%dT%H:%M", errors="coerce").where(timed)
    frame["DATE"] = iso_sas_date(text).to_numpy(dtype="float64")
    single = frame["TEMP"].to_numpy() >= check.single
    # sustained: runs of consecutive timed readings, all >= sustained, gaps within max_gap_minutes
    subject = frame["USUBJID"].to_numpy(object)
    minutes = ((stamp - pd.Timestamp("1970-01-01")).dt.total_seconds() / 60).to_numpy(float)
    same = np.zeros(len(frame), bool)
    if len(frame) > 1:
        same[1:] = ((subject[1:] == subject[:-1]) & (position[1:] == position[:-1] + 1) & timed[1:] & timed[:-1]
                    & ((minutes[1:] - minutes[:-1]) <= check.max_gap_minutes))
    by_run = pd.Series(minutes).groupby(np.cumsum(~same))
    span = (by_run.transform("max") - by_run.transform("min")).to_numpy(float)
    sustained = timed & (span >= check.sustained_minutes)
    frame["RULE"] = np.where(single, f">= {check.single:g} C",
                             np.where(sustained, f">= {check.sustained:g} C held {check.sustained_minutes} min", ""))
    keep = (single | sustained) & ~np.isnan(frame["DATE"].to_numpy())
    return frame[keep].reset_index(drop=True)


def _sort_ranks(texts) -> np.ndarray:
    """Dense rank of each text (Python strings, or an Arrow-backed string array) in sorted order, equal texts
    equal ranks: sorted by Arrow (UTF-8 byte order, which is Python's order of str) instead of comparing
    Python objects."""
    if isinstance(texts, pd.api.extensions.ExtensionArray) and hasattr(texts, "_pa_array"):
        array = texts._pa_array
        array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    else:
        array = pa.array(texts, type=pa.large_string())
    return pc.rank(array, sort_keys="ascending", tiebreaker="dense").to_numpy()


def _subject_codes(usubjid: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(code of each value, the distinct values as text: ``astype(str)``), one text per subject not per record."""
    codes, uniques = pd.factorize(usubjid, use_na_sentinel=False)
    return codes, np.asarray(pd.Series(uniques, dtype=object).astype(str), dtype=object)


def derived_events(inputs: Inputs, check: FebrileNeutropeniaCheck, cfg: ReportConfig) -> pd.DataFrame:
    """Fever readings on window days with a low ANC in reach: one row per subject and fever day (the
    hottest reading), with the lowest ANC that matched."""
    fever = inputs.group_of(fevers(inputs.vs, check))
    fever = fever.assign(DAY=relative_day(fever["DATE"], fever["ANCHOR"]))
    fever = fever[in_window(fever["DAY"], cfg)]
    lb = inputs.adlb
    require(lb, "ADLB", ["PARAMCD", "AVAL", "ADT"])
    # the low ANC values with a date, of safety subjects (by position in the subjects: no text per record)
    rows = np.flatnonzero(text_is(lb["PARAMCD"], check.anc_paramcd).to_numpy(bool))
    subject = subject_positions(lb["USUBJID"], inputs.subjects["USUBJID"])[rows]
    value = pd.to_numeric(lb["AVAL"].take(rows), errors="coerce").to_numpy(float)
    date = pd.to_numeric(lb["ADT"].take(rows), errors="coerce").to_numpy(float)
    kept = (subject >= 0) & (value < check.anc_below) & ~np.isnan(date)  # only these are read on
    subject, value, date = subject[kept], value[kept], date[kept]
    # every (fever, low ANC) pair of a subject within reach, in the order of an inner merge on USUBJID (each
    # fever in turn, its subject's low values in their order); a few rows per subject
    by_subject = np.argsort(subject, kind="stable")
    fever_subject = subject_positions(fever["USUBJID"], inputs.subjects["USUBJID"])
    first = np.searchsorted(subject[by_subject], fever_subject, side="left")
    count = np.searchsorted(subject[by_subject], fever_subject, side="right") - first
    left = np.repeat(np.arange(len(fever)), count)
    right = by_subject[np.repeat(first - np.cumsum(count) + count, count) + np.arange(int(count.sum()))]
    gap = date[right] - fever["DATE"].to_numpy(float)[left]
    near = np.flatnonzero((gap >= -check.anc_days_before) & (gap <= check.anc_days_after))
    pairs = fever.iloc[left[near]].reset_index(drop=True).assign(ANC_DATE=date[right[near]], ANC=value[right[near]])
    pairs.index = near  # as the merged frame's row numbers
    if pairs.empty:
        return pd.DataFrame(columns=[*LISTING_COLUMNS[:8], "DATE"])
    pairs = pairs.sort_values(["USUBJID", "DATE", "TEMP", "ANC"], ascending=[True, True, False, True], kind="stable")
    events = pairs.drop_duplicates(["USUBJID", "DATE"], keep="first").copy()
    events["FEVER_DTC"] = events["TEXT"].astype(str)
    events["FEVER_DAY"] = events["DAY"].astype(int)
    events["FEVER_RULE"] = events["RULE"]
    events["ANC_DAY"] = relative_day(events["ANC_DATE"], events["ANCHOR"]).astype(int)
    return events[["USUBJID", "GROUP", "FEVER_DTC", "FEVER_DAY", "TEMP", "FEVER_RULE", "ANC", "ANC_DAY", "DATE"]]


def check_febrile_neutropenia(ard: Ard, inputs: Inputs, check: FebrileNeutropeniaCheck,
                              cfg: ReportConfig) -> pd.DataFrame:
    """ARD rows (under outcome ``check.outcome``) and the record-level listing for data review."""
    events = derived_events(inputs, check, cfg)
    ae = inputs.group_of(inputs.adae)
    require(ae, "ADAE", [check.reported_flag, cfg.ae_day, "ASTDT", "AENDT", check.term])
    reported = ae[is_y(ae[check.reported_flag]) & in_window(ae[cfg.ae_day], cfg)]
    subjects = inputs.subjects[["USUBJID", "GROUP"]].copy()
    subjects["DERIVED"] = subjects["USUBJID"].isin(events["USUBJID"])
    subjects["REPORTED"] = subjects["USUBJID"].isin(reported["USUBJID"].astype(str))
    label = (f"Derived febrile neutropenia check ({check.anc_paramcd} < {check.anc_below:g} from "
             f"{check.anc_days_before} day(s) before to {check.anc_days_after} after a temperature >= "
             f"{check.single:g} C, or >= {check.sustained:g} C held {check.sustained_minutes} min; "
             f"{window_text(cfg)}) against the investigator-reported AE ({check.reported_flag})")
    rows = [("DERIVED", "Y", "Subjects meeting the derived criteria", subjects["DERIVED"]),
            ("AGREE", "derived and reported", "Derived and reported", subjects["DERIVED"] & subjects["REPORTED"]),
            ("AGREE", "derived only", "Derived, not reported as febrile neutropenia (review)",
             subjects["DERIVED"] & ~subjects["REPORTED"]),
            ("AGREE", "reported only", "Reported, not derived from labs and temperatures (review)",
             ~subjects["DERIVED"] & subjects["REPORTED"])]
    for variable, level, text, mask in rows:
        add_incidence(ard, inputs, check.outcome, "FN.DERIVED", label, variable, subjects[mask.to_numpy()],
                      variable_level=level, variable_label=text)
    # the listing: derived events, and reported-only subjects (one row each, no fever)
    status = {u: STATUS[(d, r)] for u, d, r in subjects[["USUBJID", "DERIVED", "REPORTED"]].itertuples(index=False)}
    others = subjects[~subjects["DERIVED"] & subjects["REPORTED"]][["USUBJID", "GROUP"]]
    listing = pd.concat([events, others], ignore_index=True)
    listing["REPORTED_FN"] = np.where(listing["USUBJID"].isin(reported["USUBJID"].astype(str)), "Y", "N")
    # text even with no row (no fever, no reported FN: an empty listing would otherwise hold floats)
    listing["REVIEW"] = listing["USUBJID"].map(status).astype(object).fillna("")
    listing["AES_THAT_DAY"] = _aes_on(ae, listing, check.term)
    listing["FEVER_DAY"] = listing["FEVER_DAY"].astype("Int64")
    listing["ANC_DAY"] = listing["ANC_DAY"].astype("Int64")
    return listing[LISTING_COLUMNS].sort_values(["USUBJID", "FEVER_DAY"], kind="stable", na_position="last") \
        .reset_index(drop=True)


def _aes_on(ae: pd.DataFrame, listing: pd.DataFrame, term: str) -> np.ndarray:
    """The AE terms of each listing row's subject ongoing on its fever date ('' without a fever)."""
    if listing.empty:
        return np.array([], dtype=object)
    records = pd.DataFrame({"USUBJID": ae["USUBJID"].astype(str).to_numpy(),
                            "START": pd.to_numeric(ae["ASTDT"], errors="coerce").to_numpy(float),
                            "END": pd.to_numeric(ae["AENDT"], errors="coerce").to_numpy(float),
                            "TERM": ae[term].astype(str).to_numpy()})
    keyed = listing[["USUBJID"]].assign(DATE=listing["DATE"].to_numpy(float) if "DATE" in listing else np.nan,
                                        ROW=np.arange(len(listing)))
    pairs = keyed.merge(records, on="USUBJID", how="inner")
    on = (pairs["START"] <= pairs["DATE"]) & (pairs["END"].isna() | (pairs["END"] >= pairs["DATE"]))
    found = pairs[on].drop_duplicates(["ROW", "TERM"]).sort_values(["ROW", "TERM"], kind="stable")
    out = np.full(len(listing), "", dtype=object)
    rows, terms = found["ROW"].to_numpy(), found["TERM"].to_numpy(object)
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]]) if len(rows) else np.array([], int)
    ends = np.r_[starts[1:], len(rows)]
    out[rows[starts]] = ["; ".join(terms[a:b]) for a, b in zip(starts, ends)]  # one join per listing row
    return out
