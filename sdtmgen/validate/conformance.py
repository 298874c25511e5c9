"""Cross-dataset conformance rules, kept in one registry (``sdtmgen.validate.rule_base``).

A rule is a function registered with its id, severity and message; it receives the whole
package and returns the offending records. The build runs every registered rule and writes the
results to the conformance report. This module holds the SDTM rules and the ADaMIG metadata rules,
and imports ``adam_rules`` so that importing it completes the registry.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sdtmgen.validate.rule_base import (ADAM_STRUCTURES, LOCKED, RULES, ConformanceRule, Hit,  # noqa: F401
                                        NotRun, Package, _blank, _placeholder, conformance_rule,
                                        not_run_finding, run_rules)
from sdtmgen.validate.rule_base import day_numbers as _day_numbers
from sdtmgen.validate.rule_base import head_number, iso_text, plain_days, text_head
from sdtmgen.validate.duplicates import duplicated_rows
from sdtmgen.validate.textbuffers import all_ascii, none_blank, text_buffers  # noqa: F401

if TYPE_CHECKING:  # pragma: no cover
    from sdtmgen.spec.models import AdamDatasetSpec, DomainSpec


def _subject_datasets(package: Package):
    for name, frame in package.datasets.items():
        if "USUBJID" in frame.columns and name != "DM":
            yield name, frame


def _spread(per_value: np.ndarray, codes: np.ndarray, missing) -> np.ndarray:
    """Per-record values from per-distinct-value ones (code -1, a missing value, gets ``missing``)."""
    return np.append(per_value, np.asarray([missing], dtype=per_value.dtype))[codes]


def _is_in(values: pd.Series, known: pd.Series) -> np.ndarray:
    """``values.isin(known)`` (missing values never match), by Arrow's hash lookup for Arrow text."""
    if isinstance(values.array, pd.arrays.ArrowStringArray) and isinstance(known.array, pd.arrays.ArrowStringArray):
        target = pa.array(values.array)
        found = pc.is_in(target, value_set=pa.array(known.array).drop_null().cast(target.type))
        return found.to_numpy(zero_copy_only=False)
    return values.isin(set(known.dropna())).to_numpy(dtype=bool)


def _position_in(values: pd.Series, known: pd.Series) -> np.ndarray:
    """``pd.Index(known).get_indexer(values)`` of distinct ``known`` (-1: not one of them, or missing), by Arrow's
    hash lookup for Arrow text."""
    if isinstance(values.array, pd.arrays.ArrowStringArray) and isinstance(known.array, pd.arrays.ArrowStringArray):
        target = pa.array(values.array)
        found = pc.index_in(target, value_set=pa.array(known.array).cast(target.type))
        return pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return pd.Index(known.astype(object)).get_indexer(values.astype(object))


def _isin(values: pd.Series, known: pd.Series) -> pd.Series:
    """``values.isin(known)`` (a missing value matches a missing one) without pandas' list of Python strings
    that Arrow text takes."""
    if isinstance(values.array, pd.arrays.ArrowStringArray) and isinstance(known.array, pd.arrays.ArrowStringArray):
        target = pa.array(values.array)
        if not len(known):
            return pd.Series(np.zeros(len(values), dtype=bool), index=values.index)
        found = pc.is_in(target, value_set=pa.array(known.array).cast(target.type))
        return pd.Series(found.to_numpy(zero_copy_only=False).astype(bool), index=values.index)
    return values.isin(known)


def _text(values: pd.Series) -> list[str]:
    """The values as ``astype(str)`` writes them (missing -> '<NA>')."""
    return values.astype(str).tolist()


@conformance_rule("XD-SUBJ-DM", "error", "subject not in DM")
def subjects_in_dm(package: Package) -> Iterable[Hit]:
    if "DM" not in package.datasets:
        return
    known = package.datasets["DM"]["USUBJID"]
    for name, frame in _subject_datasets(package):
        codes, subjects = package.distinct(name, "USUBJID")
        unknown = ~_is_in(subjects, known)
        mask = _spread(unknown, codes, True)
        shown = _text(subjects[unknown]) + _text(frame["USUBJID"][codes < 0])
        yield Hit(name, "USUBJID", mask, tuple(sorted(set(shown))))


@conformance_rule("XD-SEQ-UNIQUE", "error", "--SEQ is not unique within subject")
def seq_unique(package: Package) -> Iterable[Hit]:
    for name, frame in package.datasets.items():
        seq = f"{name}SEQ"
        if seq in frame.columns and "USUBJID" in frame.columns:
            subject, _ = package.distinct(name, "USUBJID")
            mask = duplicated_rows(pd.DataFrame({"USUBJID": subject, seq: frame[seq].to_numpy()}), ["USUBJID", seq])
            mask |= frame[seq].isna().to_numpy(dtype=bool)
            yield Hit(name, seq, mask)


def _compare_iso(start: pd.Series, end: pd.Series) -> np.ndarray:
    """True where end is before start, at the precision both have (partial dates compare by prefix)."""
    # a date with an unknown month ("2025---12") is known only to its year
    s = start.astype("string[pyarrow]").str.replace(r"---.*$", "", regex=True)
    e = end.astype("string[pyarrow]").str.replace(r"---.*$", "", regex=True)
    width = np.minimum(s.str.len().fillna(0).to_numpy(), e.str.len().fillna(0).to_numpy())
    width = np.minimum(width, 16)
    both = (s.notna() & e.notna()).to_numpy(dtype=bool) & (width >= 4)
    out = np.zeros(len(s), dtype=bool)
    for w in np.unique(width[both]):  # a handful of precisions, not rows
        sel = both & (width == w)
        out[sel] = (e[sel].str.slice(0, int(w)) < s[sel].str.slice(0, int(w))).to_numpy(dtype=bool)
    return out


_PREFIX_MASKS = [np.array([(~0 << (8 * (8 - min(max(w - half * 8, 0), 8)))) & 0xFFFFFFFFFFFFFFFF if w > half * 8 else 0
                           for w in range(17)], dtype=np.uint64) for half in (0, 1)]
"""Per width w (0-16): masks of the first w bytes in the two big-endian 8-byte halves of 16 bytes."""


def _prefix_numbers(values: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Each value as ``_compare_iso`` reads it (the text before an unknown month '---'): its first 16 bytes,
    zero-padded, as two big-endian numbers, and its length (capped at 16; 0 when missing). None when some
    text is not ASCII (then characters are not bytes)."""
    text = values.astype("string[pyarrow]").str.replace(r"---.*$", "", regex=True)
    if not all_ascii(text):
        return None
    lengths = np.minimum(text.str.len().fillna(0).to_numpy(dtype=np.int64), 16)
    buffers = text_buffers(text)
    offsets, data = (buffers[0][0], buffers[0][1]) if buffers and len(buffers) == 1 else (None, None)
    if offsets is None or not len(data):
        if lengths.any():
            return None
        zero = np.zeros(len(text), dtype=np.uint64)
        return zero, zero, lengths
    at = np.minimum(offsets[:-1, None] + np.arange(16), len(data) - 1)
    head = np.where(np.arange(16) < lengths[:, None], data[at], 0).astype(np.uint8)
    numbers = head.view(">u8").astype(np.uint64)
    return numbers[:, 0], numbers[:, 1], lengths


def _end_before_start(start_values: pd.Series, first: np.ndarray, end_values: pd.Series,
                      last: np.ndarray) -> np.ndarray | None:
    """``_compare_iso`` of the pairs (``first`` into the distinct starts, ``last`` into the distinct ends, -1:
    missing), from 16-byte numbers of each distinct value: the end's first w bytes sort before the start's,
    w the shorter length (at most 16, at least 4). None when some text is not ASCII."""
    start, end = _prefix_numbers(start_values), _prefix_numbers(end_values)
    if start is None or end is None:
        return None
    s_hi, s_lo, s_len = (np.append(a, np.zeros(1, a.dtype))[first] for a in start)  # code -1: missing, length 0
    e_hi, e_lo, e_len = (np.append(a, np.zeros(1, a.dtype))[last] for a in end)
    width = np.minimum(s_len, e_len)
    high, low = _PREFIX_MASKS[0][width], _PREFIX_MASKS[1][width]
    s_hi &= high
    e_hi &= high
    s_lo &= low
    e_lo &= low
    return (width >= 4) & ((e_hi < s_hi) | ((e_hi == s_hi) & (e_lo < s_lo)))


@conformance_rule("XD-START-END", "error", "end date/time is before start date/time")
def start_before_end(package: Package) -> Iterable[Hit]:
    for name, frame in package.datasets.items():
        for start in [c for c in frame.columns if c.endswith("STDTC")]:
            end = start[:-5] + "ENDTC"
            if end in frame.columns:
                # compared once per distinct (start, end) pair
                starts, start_values = package.distinct(name, start)
                ends, end_values = package.distinct(name, end)
                pairs, first, last = _pair_codes(starts, ends)
                before = _end_before_start(start_values, first, end_values, last)
                if before is None:  # text other than ASCII: compared as text
                    before = _compare_iso(_at(start_values, first), _at(end_values, last))
                mask = before[pairs]
                shown = frame.iloc[np.flatnonzero(mask)[:10]]
                yield Hit(name, end, mask, tuple(f"{a} > {b}" for a, b in zip(shown[start], shown[end])))


@conformance_rule("XD-DY-ZERO", "error", "study day is 0 (there is no day 0)")
def no_day_zero(package: Package) -> Iterable[Hit]:
    for name, frame in package.datasets.items():
        for col in [c for c in frame.columns if c.endswith("DY") and frame[c].dtype.kind == "f"]:
            yield Hit(name, col, (frame[col] == 0).to_numpy(dtype=bool))


@conformance_rule("XD-SUPP-PARENT", "error", "SUPP-- record points at no parent record")
def supp_parent(package: Package) -> Iterable[Hit]:
    for name, supp in package.datasets.items():
        if not name.startswith("SUPP") or name[4:] not in package.datasets:
            continue
        parent = package.datasets[name[4:]]
        keys = pd.Series(False, index=supp.index)
        idvar = supp["IDVAR"].fillna("")
        for var in idvar.unique():
            rows = idvar == var
            if var == "":
                found = _isin(supp.loc[rows, "USUBJID"], parent["USUBJID"])
            else:
                values = parent[var]
                text = values.astype("Int64").astype("string[pyarrow]") if values.dtype.kind == "f" else values.astype("string[pyarrow]")
                targets = pd.DataFrame({"USUBJID": parent["USUBJID"].astype("string[pyarrow]"), "IDVARVAL": text}).drop_duplicates()
                asked = supp.loc[rows, ["USUBJID", "IDVARVAL"]].astype("string[pyarrow]")
                merged = asked.merge(targets, how="left", on=["USUBJID", "IDVARVAL"], indicator=True)
                found = pd.Series((merged["_merge"] == "both").to_numpy(), index=asked.index)
            keys[rows] = ~found
        yield Hit(name, "IDVARVAL", keys.to_numpy(dtype=bool))


def _pair_codes(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per record, a code of its distinct (first, second) pair of codes; and each pair's two codes (-1 kept)."""
    span = int(second.max(initial=-1)) + 2
    pairs, keys = pd.factorize((first.astype(np.int64) + 1) * span + (second + 1))
    return pairs, keys // span - 1, keys % span - 1


def _at(values: pd.Series, codes: np.ndarray) -> pd.Series:
    """``values`` at positions ``codes`` (-1: missing)."""
    return values.reset_index(drop=True).reindex(codes).reset_index(drop=True)


@conformance_rule("XD-DY-RFSTDTC", "error",
                  "--DY does not match the date and its reference date (the spec's study_day reference, "
                  "DM.RFSTDTC by default)")
def study_day_consistent(package: Package) -> Iterable[Hit]:
    references: dict[tuple[str, str], tuple[np.ndarray, pd.Series, int] | None] = {}

    def reference_days(domain: str, variable: str) -> tuple[np.ndarray, pd.Series, int] | None:
        """Day numbers of each subject's reference date, the subjects, and the row of a missing USUBJID."""
        if (domain, variable) not in references:
            ref = package.datasets.get(domain)
            if ref is None or variable not in ref.columns or "USUBJID" not in ref.columns:
                references[(domain, variable)] = None
            else:
                first = ref.drop_duplicates("USUBJID")
                # a missing USUBJID takes the reference date of the record without USUBJID, if there is one
                missing = next(iter(np.flatnonzero(first["USUBJID"].isna().to_numpy())), -1)
                references[(domain, variable)] = (_day_numbers(first[variable]), first["USUBJID"].reset_index(drop=True),
                                                  missing)
        return references[(domain, variable)]

    for name, frame in _subject_datasets(package):
        for dy in [c for c in frame.columns if c.endswith("DY") and c != "VISITDY"]:
            dtc, ref_domain, ref_variable = _study_day_inputs(package.specs.get(name), dy)
            if dtc not in frame.columns:
                continue
            found = reference_days(ref_domain, ref_variable)
            if found is None:
                continue
            reference, ref_subjects, ref_missing = found
            # calendar days of the distinct dates and of the subjects' reference dates (NaN: unknown), each
            # found once per distinct value and spread to the records
            subject, subjects = package.distinct(name, "USUBJID")
            date, dates = package.distinct(name, dtc)
            # each subject's row in the reference dataset; the last entry, for a missing USUBJID (code -1), is
            # the row without USUBJID; row -1 (none) is the NaN appended to the reference days
            in_ref = np.append(_position_in(subjects, ref_subjects), ref_missing)
            start = np.append(reference, np.nan)[in_ref][subject]
            expected = _study_day(_spread(_day_numbers(dates), date, np.nan), start)
            del start
            actual = frame[dy].to_numpy(dtype=float)
            mask = expected != actual
            unknown = np.isnan(expected)
            unknown &= np.isnan(actual)
            mask[unknown] = False  # both missing agree
            yield Hit(name, dy, mask)


def _study_day_inputs(spec: DomainSpec | None, dy: str) -> tuple[str, str, str]:
    """(date variable, reference domain, reference variable) of a --DY: as its ``study_day`` derivation
    declares them, else --DTC and DM.RFSTDTC."""
    for step in (spec.derivations if spec is not None else []):
        if getattr(step, "derivation_name", "") == "study_day" and getattr(step, "target", None) == dy:
            return step.date, step.reference.domain, step.reference.variable
    return dy[:-2] + "DTC", "DM", "RFSTDTC"


def _study_day(day: np.ndarray, start: np.ndarray) -> np.ndarray:
    """SDTM --DY: day - start + 1 on or after the start, day - start before (no day 0); NaN when either
    is unknown. ``day`` (float day numbers) is overwritten with the answer.

    Written here a second time on purpose (double programming): the build's --DY comes from
    ``sdtmgen.dates.study_day`` on days read by the derivations' date parser, and this check recomputes it
    from the ISO text with its own reading (``_day_numbers``) and arithmetic, so that a defect in the
    build's code cannot hide itself. Do not replace it with a call to the build's function."""
    delta = np.subtract(day, start, out=day)
    delta += delta >= 0
    return delta


@conformance_rule("XD-EPOCH-SE", "error", "EPOCH differs from the subject element (SE) the record's date falls in")
def epoch_consistent(package: Package) -> Iterable[Hit]:
    from sdtmgen.sdtm.derivations.timing import iso_to_timestamp

    se = package.datasets.get("SE")
    if se is None or se.empty:
        return
    se_start = iso_to_timestamp(se["SESTDTC"]).to_numpy()
    se_epochs = _text(se["EPOCH"])
    epochs = pd.Index(se_epochs).unique()
    se_epoch = epochs.get_indexer(se_epochs)
    for name, frame in _subject_datasets(package):
        if "EPOCH" not in frame.columns or name == "SE":
            continue
        dtc = next((c for c in (f"{name}STDTC", f"{name}DTC", "SVSTDTC") if c in frame.columns), None)
        if dtc is None:
            continue
        subject, subjects = package.distinct(name, "USUBJID")
        date, dates = package.distinct(name, dtc)
        epoch, values = package.distinct(name, "EPOCH")
        # records repeat (subject, date, EPOCH) a lot: each distinct combination is checked once
        combination, (subject, date, epoch) = _combinations(subject, date, epoch)
        element = _element_at(se["USUBJID"], se_start, subjects, subject, _day_end_times(dates), date)
        expected = np.where(element >= 0, se_epoch[element], -1)
        # each EPOCH as a position among SE's epochs: -2 missing, -3 not one of them
        values = values.astype("string[pyarrow]").astype(object)
        known = epochs.get_indexer(values)
        actual = _spread(np.where(known >= 0, known, -3), epoch, -2)
        wrong = ~(((expected == -1) & (actual == -2)) | (expected == actual))
        shown = ["<missing>" if c < 0 else values.iloc[c] for c in np.unique(epoch[wrong])]
        yield Hit(name, "EPOCH", wrong[combination], tuple(sorted(set(shown)))[:10])


def _day_end_times(dates: pd.Series) -> np.ndarray:
    """``timing.day_end_timestamp`` of distinct dates, as datetime64[ns]: how the build's EPOCH derivation places a
    date among the elements (a date alone is its day's last minute, a time keeps its minute, seconds are dropped).

    The plain forms ``YYYY-MM-DD``, ``YYYY-MM-DDTHH:MM`` and ``YYYY-MM-DDTHH:MM:SS`` are read from the text
    bytes; any other value of 10 or more bytes goes to ``day_end_timestamp`` itself."""
    from sdtmgen.sdtm.derivations.timing import day_end_timestamp

    text, offsets, data, present = iso_text(dates)
    lengths = np.diff(offsets)
    minutes = np.full(len(text), np.iinfo(np.int64).min)  # the int64 of NaT
    odd = present & (lengths >= 10)  # shorter text cannot hold a complete date
    for width in (10, 16, 19):
        rows = np.flatnonzero(present & (lengths == width))
        if not len(rows):
            continue
        head = text_head(data, offsets[rows], width)
        days, plain = plain_days(head)
        if width == 10:
            clock = np.full(len(rows), 1439)
        else:
            hour, ok = head_number(head, (11, 12))
            plain &= ok
            minute, ok = head_number(head, (14, 15))
            plain &= ok & (hour < 24) & (minute < 60) & (head[:, 10] == ord("T")) & (head[:, 13] == ord(":"))
            clock = hour * 60 + minute
            if width == 19:
                second, ok = head_number(head, (17, 18))
                plain &= ok & (second < 60) & (head[:, 16] == ord(":"))
        minutes[rows[plain]] = days[plain] * 1440 + clock[plain]
        odd[rows[plain]] = False
    times = np.where(minutes == np.iinfo(np.int64).min, minutes, minutes * 60_000_000_000).view("datetime64[ns]")
    if odd.any():
        others = pd.Series(text.filter(pa.array(odd)).to_pylist(), dtype="string[pyarrow]")
        times[odd] = day_end_timestamp(others).to_numpy(dtype="datetime64[ns]")
    return times


def _combinations(*codes: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Per record, a code of its distinct combination of the codes (-1: missing, kept); and the codes of each
    combination."""
    spans = [int(c.max(initial=-1)) + 2 for c in codes]
    if len(codes) > 2 and np.prod(np.asarray(spans, dtype=float)) >= 2.0 ** 62:  # one number would overflow
        pairs, first, second = _pair_codes(codes[0], codes[1])
        combination, (pair, *rest) = _combinations(pairs, *codes[2:])
        return combination, [first[pair], second[pair], *rest]
    key = codes[0].astype(np.int64) + 1
    for c, span in zip(codes[1:], spans[1:]):
        key *= span
        key += c
        key += 1
    combination, keys = pd.factorize(key)
    del key
    parts = []
    for span in reversed(spans[1:]):
        parts.append(keys % span - 1)
        keys = keys // span
    return combination, [keys - 1, *reversed(parts)]


def _element_at(se_subjects: pd.Series, se_start: np.ndarray, subjects: pd.Series, subject: np.ndarray,
                times: np.ndarray, time: np.ndarray) -> np.ndarray:
    """Per record, the row of SE with the subject's last start on or before the record's time; -1 when none.

    Records are given as codes: ``subject`` into ``subjects`` and ``time`` into ``times`` (-1:
    missing; a missing subject matches a missing SE USUBJID). Of equal starts of one subject the
    later SE row wins, as in an as-of merge.
    """
    out = np.full(len(subject), -1, dtype=np.int64)
    rows = np.flatnonzero(~np.isnat(se_start))
    known = np.flatnonzero(~np.isnat(times))
    if not len(rows) or not len(known):
        return out
    position = _position_in(se_subjects.iloc[rows], subjects)
    se_subject = np.where(se_subjects.iloc[rows].isna().to_numpy(), -1, np.where(position < 0, -2, position))
    # one sortable integer per (subject, time): subject code * span + time rank, the rank of a time being the
    # number of distinct SE starts on or before it (so an SE start is on or before a time exactly when its
    # rank is at most the time's)
    starts = np.unique(se_start[rows])
    span = len(starts) + 1
    time_rank = np.full(len(times), -1, dtype=np.int64)
    time_rank[known] = np.searchsorted(starts, times[known], side="right")
    record_rank = _spread(time_rank, time, -1)
    timed = np.flatnonzero(record_rank >= 0)
    se_key = se_subject * span + np.searchsorted(starts, se_start[rows], side="right")
    order = np.argsort(se_key, kind="stable")
    se_key, rows, se_subject = se_key[order], rows[order], se_subject[order]
    at = np.searchsorted(se_key, subject[timed].astype(np.int64) * span + record_rank[timed], side="right") - 1
    hit = (at >= 0) & (se_subject[np.maximum(at, 0)] == subject[timed])
    out[timed[hit]] = rows[at[hit]]
    return out


@conformance_rule("XD-VISIT-TV", "error", "VISITNUM/VISIT pair is neither a planned visit in TV nor unplanned")
def visits_in_tv(package: Package) -> Iterable[Hit]:
    tv = package.datasets.get("TV")
    if tv is None:
        return
    planned = pd.DataFrame(sorted(set(zip(tv["VISITNUM"].astype(float), tv["VISIT"].astype(str)))), columns=["N", "V"])
    names = pd.Index(planned["V"]).unique()
    numbers = np.unique(planned["N"].to_numpy(dtype=float))
    # in_tv[name, number]: the pair is planned; the last row and column stand for "not in TV"
    in_tv = np.zeros((len(names) + 1, len(numbers) + 1), dtype=bool)
    in_tv[names.get_indexer(planned["V"]), _position(numbers, planned["N"].to_numpy(dtype=float))] = True
    in_tv[:, -1] = False
    for name, frame in _subject_datasets(package):
        if "VISITNUM" not in frame.columns or "VISIT" not in frame.columns:
            continue
        # VISIT as codes of its distinct values; each distinct name is looked up in TV once
        visit, values = package.distinct(name, "VISIT")
        values = values.astype("string[pyarrow]")
        number = frame["VISITNUM"].to_numpy(dtype=float)
        # accepted[visit code, VISITNUM position]: planned in TV, or an unplanned visit (last row: VISIT missing)
        planned_name = np.append(names.get_indexer(values.astype(object)), -1)
        unplanned = np.append(values.str.startswith(package.unplanned_visit).to_numpy(dtype=bool), False)
        accepted = in_tv[planned_name] | unplanned[:, None]
        mask = ~accepted[visit, _position(numbers, number)]
        mask &= ~np.isnan(number)
        shown = pd.DataFrame({"N": number[mask], "V": visit[mask]}).drop_duplicates()
        text = _at(values, shown["V"].to_numpy())
        yield Hit(name, "VISIT", mask, tuple(sorted({f"{n:g}/{v}" for n, v in zip(shown["N"], text)}))[:10])


def _position(numbers: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Position of each value in the sorted ``numbers``; len(numbers) when it is not one of them."""
    at = np.searchsorted(numbers, values)
    if not len(numbers):
        return at
    found = numbers[np.minimum(at, len(numbers) - 1)] == values
    return np.where(found, at, len(numbers))


@conformance_rule("XD-RELREC", "error", "RELREC points at no record")
def relrec_resolves(package: Package) -> Iterable[Hit]:
    relrec = package.datasets.get("RELREC")
    if relrec is None or relrec.empty:
        return
    mask = np.zeros(len(relrec), dtype=bool)
    for (domain, idvar), rows in relrec.groupby(["RDOMAIN", "IDVAR"], sort=True).groups.items():
        target = package.datasets.get(domain)
        if target is None or idvar not in target.columns:
            mask[relrec.index.get_indexer(rows)] = True
            continue
        values = target[idvar]
        text = values.astype("Int64").astype("string[pyarrow]") if values.dtype.kind == "f" else values.astype("string[pyarrow]")
        known = pd.DataFrame({"USUBJID": target["USUBJID"].astype("string[pyarrow]"), "IDVARVAL": text, "_ok": True}).drop_duplicates()
        asked = relrec.loc[rows, ["USUBJID", "IDVARVAL"]].astype("string[pyarrow]")
        merged = asked.merge(known, how="left", on=["USUBJID", "IDVARVAL"])
        mask[relrec.index.get_indexer(rows)] = ~merged["_ok"].eq(True).to_numpy(dtype=bool)
    yield Hit("RELREC", "IDVARVAL", mask)
    sizes = relrec.groupby(["USUBJID", "RELID"])["RELID"].transform("size").to_numpy()
    yield Hit("RELREC", "RELID", sizes < 2, detail="a relationship needs at least two records")


def _require_ig(package: Package) -> None:
    if package.ig is None:
        raise NotRun("no SDTMIG variable metadata was given (study.yaml standards.sdtmig)")


def _not_in_ig(name: str) -> Hit:
    """A dataset the SDTMIG metadata does not describe (a sponsor-defined domain): not checked, and said so."""
    return Hit(name, "", np.array([True]), detail=f"{name} is not described in the SDTMIG metadata "
               f"(a sponsor's standards.sdtmig_file can describe it)", not_run=True)


def _ig_rows(package: Package, name: str) -> pd.DataFrame | None:
    _require_ig(package)
    base = "SUPPQUAL" if name.startswith("SUPP") else name
    rows = package.ig[package.ig["dataset"] == base]
    return rows if len(rows) else None


@conformance_rule("IG-REQ", "error", "SDTMIG Required variable is absent or has missing values")
def ig_required(package: Package) -> Iterable[Hit]:
    _require_ig(package)
    for name, frame in package.datasets.items():
        rows = _ig_rows(package, name)
        if rows is None:
            yield _not_in_ig(name)
            continue
        for var in rows.loc[rows["core"] == "Req", "name"]:
            if var not in frame.columns:
                yield Hit(name, var, np.array([True]), detail="variable absent", dataset_level=True)
            else:
                yield Hit(name, var, _blank(frame[var]))


@conformance_rule("IG-EXP", "error", "SDTMIG Expected variable is absent from the dataset")
def ig_expected(package: Package) -> Iterable[Hit]:
    _require_ig(package)
    for name, frame in package.datasets.items():
        rows = _ig_rows(package, name)
        if rows is None:
            yield _not_in_ig(name)
            continue
        for var in rows.loc[rows["core"] == "Exp", "name"]:
            if var not in frame.columns:
                yield Hit(name, var, np.array([True]), detail="variable absent", dataset_level=True)


@conformance_rule("IG-LABEL", "error", "variable label differs from the SDTMIG label")
def ig_labels(package: Package) -> Iterable[Hit]:
    _require_ig(package)
    for name, spec in package.specs.items():
        rows = _ig_rows(package, name)
        if rows is None:
            yield _not_in_ig(name)
            continue
        labels = dict(zip(rows["name"], rows["label"]))
        for var in spec.variables:
            if var.name in labels and labels[var.name] != var.label:
                yield Hit(name, var.name, np.array([True]), (var.label, labels[var.name]),
                          detail=f"spec says {var.label!r}, SDTMIG says {labels[var.name]!r}", dataset_level=True)


def _adam_ig_rows(package: Package) -> Iterable[tuple[str, AdamDatasetSpec, pd.DataFrame]]:
    """(name, spec, ADaMIG rows) of each ADaM dataset whose class ADaMIG 1.3 lists (ADSL, BDS).

    Other classes (e.g. OCCDS, described in its own document) are not in the metadata and are not
    checked. No ADaM dataset: nothing to check; ADaM datasets but no metadata: not run."""
    adam = [(n, s) for n, s in package.specs.items() if s.standard == "ADaM"]
    if adam and package.adamig is None:
        raise NotRun("no ADaMIG variable metadata was given (study.yaml standards.adamig)")
    for name, spec in adam:
        structure = ADAM_STRUCTURES.get(spec.dataset_class.upper())
        rows = package.adamig[package.adamig["dataset"] == structure] if structure else None
        if rows is not None and len(rows) and name in package.datasets:
            yield name, spec, rows


@conformance_rule("ADAMIG-REQ", "error", "ADaMIG Required variable is absent or has missing values")
def adamig_required(package: Package) -> Iterable[Hit]:
    for name, _spec, rows in _adam_ig_rows(package):
        frame = package.datasets[name]
        for var in rows.loc[rows["core"] == "Req", "name"]:
            if re.search(r"[a-z]", var):  # one variable of the family is required (e.g. TRT01P for TRTxxP)
                pattern = _placeholder(var)
                if pattern is not None and not any(pattern.match(c) for c in frame.columns):
                    yield Hit(name, var, np.array([True]), detail="no variable of this name pattern",
                              dataset_level=True)
            elif var not in frame.columns:
                yield Hit(name, var, np.array([True]), detail="variable absent", dataset_level=True)
            else:
                yield Hit(name, var, _blank(frame[var]))


@conformance_rule("ADAMIG-LABEL", "warning", "variable label differs from the ADaMIG label")
def adamig_labels(package: Package) -> Iterable[Hit]:
    for name, spec, rows in _adam_ig_rows(package):
        labels = dict(zip(rows["name"], rows["label"]))
        for var in spec.variables:
            if var.name in labels and labels[var.name] != var.label:
                yield Hit(name, var.name, np.array([True]), (var.label, labels[var.name]),
                          detail=f"spec says {var.label!r}, ADaMIG says {labels[var.name]!r}", dataset_level=True)


from sdtmgen.validate import adam_rules  # noqa: E402,F401  (registers the ADaM rules in RULES)
