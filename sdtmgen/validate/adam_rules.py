"""ADaM conformance rules (ADaMIG 1.3 and the ADaM conformance checks), in the conformance registry.

Each rule is one registered function over the whole package; it looks only at datasets whose spec is
an ADaM dataset spec, so on an SDTM package every rule has nothing to check. Rules comparing ADaM with
SDTM (ADSL against DM, SRCDOM/SRCVAR/SRCSEQ) read ``Package.sdtm``; without it they are 'not run'.
Offending records are reported with their row numbers and, in the values, the subject and the value
at fault. Severities (see docs/conformance.md): errors for what breaks the structure or traceability,
warnings where the sponsor's judgement applies.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Iterable

import numpy as np
import pandas as pd

from sdtmgen.validate.rule_base import ADAM_STRUCTURES, Hit, NotRun, Package, _blank, _placeholder, conformance_rule

if TYPE_CHECKING:  # pragma: no cover
    from sdtmgen.spec.models import AdamDatasetSpec

#: every ADaM rule id, as ``validate_adam`` runs them (the ADAMIG-* ones live in conformance.py)
ADAM_RULE_IDS = ["ADAM-ADSL-DM", "ADAM-ADSL-ONE", "ADAM-AVAL", "ADAM-CNSR", "ADAM-DATE-FMT", "ADAM-DATE-NUM",
                 "ADAM-FL", "ADAM-FN", "ADAM-PARAM-1TO1", "ADAM-PARAMCD", "ADAM-POPFL", "ADAM-SRC",
                 "ADAM-SUBJ-ADSL", "ADAM-TRT-ADSL", "ADAM-TTE-ADT", "ADAMIG-LABEL", "ADAMIG-REQ", "ADAMIG-TYPE"]

#: ADSL population flags when no ADaMIG metadata is given (ADaMIG 1.3, Population Indicator)
POPULATION_FLAGS = ("FASFL", "SAFFL", "ITTFL", "PPROTFL", "COMPLFL", "RANDFL", "ENRLFL")

#: SAS display formats by kind of numeric timing variable (name suffix)
DATE_FORMATS = {"DTM": re.compile(r"^(DATETIME|E8601DT|IS8601DT|B8601DT|DATEAMPM)\d*\.\d*$"),
                "DT": re.compile(r"^(DATE|E8601DA|IS8601DA|B8601DA|YYMMDD|DDMMYY|MMDDYY|YYMMDDD|YYMMDDN)\d*\.$"),
                "TM": re.compile(r"^(TIME|TOD|E8601TM|IS8601TM|B8601TM|HHMM)\d*\.\d*$")}

SHOWN = 10  # offending values shown per finding


def _adam(package: Package, structure: str | None = None) -> Iterable[tuple[str, AdamDatasetSpec, pd.DataFrame]]:
    """(name, spec, frame) of the package's ADaM datasets, of one class (spec ``class``) if given."""
    for name, spec in package.specs.items():
        if spec.standard == "ADaM" and name in package.datasets:
            if structure is None or spec.dataset_class.upper() == structure:
                yield name, spec, package.datasets[name]


def _adsl(package: Package) -> pd.DataFrame | None:
    found = [f for _n, _s, f in _adam(package, "SUBJECT LEVEL ANALYSIS DATASET")]
    return found[0] if found else None


def _shown(frame: pd.DataFrame, mask: np.ndarray, *columns: str) -> tuple[str, ...]:
    """'USUBJID: value' of the first offending records (each column's value, joined by '/')."""
    picked = frame.iloc[np.flatnonzero(mask)[:SHOWN]]
    subjects = picked["USUBJID"].astype(str).tolist() if "USUBJID" in picked else [""] * len(picked)
    if not columns:
        return tuple(subjects)
    values = zip(*(picked[c].astype(str).tolist() for c in columns))
    return tuple(f"{s}: {'/'.join(v)}" for s, v in zip(subjects, values))


def _text(values: pd.Series) -> pd.Series:
    return values.astype("string[pyarrow]")


def _factorised(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """(code of each record, -1 when missing; the distinct values): one hash pass, Arrow's for text."""
    codes, distinct = pd.factorize(values.array if isinstance(values.dtype, pd.StringDtype) else values.to_numpy(),
                                   use_na_sentinel=True)
    return codes, pd.Index(distinct)


def _shared_factorised(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Text as codes (-1 missing) and its distinct values: Arrow text's dictionary encoding, shared by the
    rules (and steps) reading the same column in one run, so the records are hashed once, not once a rule."""
    from sdtmgen.columns.ordering import factorize

    if not (isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"):
        values = _text(values)
    codes, uniques = factorize(values)
    return np.asarray(codes), pd.Index(uniques)


def _subject_codes(frame: pd.DataFrame) -> tuple[np.ndarray, pd.Index]:
    """USUBJID as shared codes (see ``_shared_factorised``)."""
    return _shared_factorised(frame["USUBJID"])


def _same_as_subject(mine: pd.Series, theirs: pd.Series, at: np.ndarray) -> np.ndarray | None:
    """Per record, whether ``mine`` equals ``theirs`` at the subject's row ``at`` (-1: none, compares as missing),
    both missing counting as equal; compared on numbers, or on codes of the few distinct texts instead of
    building the subject's text on every record. None for other types (the caller compares the values)."""
    if mine.dtype == np.float64 and theirs.dtype == np.float64:
        values = theirs.to_numpy()
        expected = np.where(at >= 0, values[np.maximum(at, 0)] if len(values) else np.nan, np.nan)
        actual = mine.to_numpy()
        return (actual == expected) | (np.isnan(actual) & np.isnan(expected))
    text = [isinstance(v.dtype, pd.StringDtype) and v.dtype.storage == "pyarrow" for v in (mine, theirs)]
    if not all(text):
        return None
    their_codes, their_values = _factorised(theirs)  # per subject; -1 missing
    my_codes, my_values = _factorised(mine)
    # my distinct values in their numbering: -1 missing, -2 a value no subject has
    mine_as_theirs = np.append(np.where((found := their_values.get_indexer(my_values)) >= 0, found, -2), -1)[my_codes]
    expected = np.append(their_codes, -1)[at]
    return mine_as_theirs == expected


def _shared_codes(asked: tuple[np.ndarray, pd.Index],
                  known: pd.Series | tuple[np.ndarray, pd.Index]) -> tuple[np.ndarray, np.ndarray]:
    """Codes of the ``asked`` records (factorised) and of ``known`` (or its factorisation) in ``known``'s
    numbering, missing a value of its own (as a merge matches it); -1 where an asked value is not among the
    known ones. Only the distinct asked values are looked up."""
    asked_codes, asked_values = asked
    known_codes, known_values = known if isinstance(known, tuple) else _factorised(known)
    missing = len(known_values)  # the code of a missing value on both sides
    at = np.append(known_values.get_indexer(asked_values), missing)  # code -1 (missing) picks the last entry
    return at[asked_codes].astype(np.int64, copy=False), np.where(known_codes < 0, missing, known_codes)


@conformance_rule("ADAM-ADSL-ONE", "error", "ADSL has more than one record for a subject, or a record without USUBJID")
def adsl_one_record(package: Package) -> Iterable[Hit]:
    for name, _spec, frame in _adam(package, "SUBJECT LEVEL ANALYSIS DATASET"):
        subject = frame["USUBJID"]
        mask = (subject.duplicated(keep=False) | _blank(subject)).to_numpy(dtype=bool)
        yield Hit(name, "USUBJID", mask, _shown(frame, mask))


@conformance_rule("ADAM-ADSL-DM", "error", "ADSL and SDTM DM do not hold the same subjects")
def adsl_matches_dm(package: Package) -> Iterable[Hit]:
    for name, _spec, frame in _adam(package, "SUBJECT LEVEL ANALYSIS DATASET"):
        if package.sdtm is None or "DM" not in package.sdtm:
            yield Hit(name, "USUBJID", np.array([True]), detail="the SDTM DM dataset was not given", not_run=True)
            continue
        dm = _text(package.sdtm["DM"]["USUBJID"])
        subjects = _text(frame["USUBJID"])
        extra = ~subjects.isin(set(dm.dropna())).to_numpy(dtype=bool)
        yield Hit(name, "USUBJID", extra, _shown(frame, extra), detail="subject in ADSL but not in DM")
        missing = sorted(set(dm.dropna()) - set(subjects.dropna()))
        if missing:
            yield Hit(name, "USUBJID", np.array([True]), tuple(missing[:SHOWN]), dataset_level=True,
                      detail=f"{len(missing)} DM subject(s) not in ADSL: {', '.join(missing[:SHOWN])}")


@conformance_rule("ADAM-SUBJ-ADSL", "error", "subject of an ADaM dataset is not in ADSL")
def subjects_in_adsl(package: Package) -> Iterable[Hit]:
    adsl = _adsl(package)
    if adsl is None:
        return
    known = set(_text(adsl["USUBJID"]).dropna())
    for name, spec, frame in _adam(package):
        if spec.dataset_class.upper() != "SUBJECT LEVEL ANALYSIS DATASET" and "USUBJID" in frame:
            codes, subjects = _subject_codes(frame)  # each distinct subject looked up once
            mask = np.append(~pd.Series(subjects, dtype=object).isin(known).to_numpy(dtype=bool), True)[codes]
            yield Hit(name, "USUBJID", mask, _shown(frame, mask))


@conformance_rule("ADAM-PARAMCD", "error",
                  "PARAMCD is missing, longer than 8 characters, or not a name (letter first, then letters, "
                  "digits, underscores)")
def paramcd_name(package: Package) -> Iterable[Hit]:
    for name, _spec, frame in _adam(package):
        if "PARAMCD" in frame:
            codes, values = pd.factorize(frame["PARAMCD"].array, use_na_sentinel=True)
            bad = ~_text(pd.Series(values)).str.fullmatch(r"[A-Z][A-Z0-9_]{0,7}").fillna(False).to_numpy(dtype=bool)
            mask = np.append(bad, True)[codes]  # code -1: missing
            yield Hit(name, "PARAMCD", mask, _shown(frame, mask, "PARAMCD"))


@conformance_rule("ADAM-PARAM-1TO1", "error", "PARAMCD and PARAM are not one-to-one")
def param_one_to_one(package: Package) -> Iterable[Hit]:
    for name, _spec, frame in _adam(package):
        if "PARAMCD" in frame and "PARAM" in frame:
            # on codes (0: missing): the distinct (PARAMCD, PARAM) pairs, then how many pairs each side is in
            code = _shared_factorised(frame["PARAMCD"])[0].astype(np.int64) + 1
            param = _shared_factorised(frame["PARAM"])[0].astype(np.int64) + 1
            width = int(param.max(initial=0)) + 1
            pairs = pd.unique(code * width + param)  # (numpy's unique hashes slower here)
            per_code = np.bincount(pairs // width, minlength=int(code.max(initial=0)) + 1)
            per_param = np.bincount(pairs % width, minlength=width)
            mask = (per_code[code] > 1) | (per_param[param] > 1) | (code == 0) | (param == 0)
            yield Hit(name, "PARAMCD", mask, tuple(dict.fromkeys(_shown(frame, mask, "PARAMCD", "PARAM"))))


@conformance_rule("ADAM-AVAL", "error", "neither AVAL nor AVALC is populated on a parameter's record")
def aval_populated(package: Package) -> Iterable[Hit]:
    for name, _spec, frame in _adam(package):
        if "PARAMCD" in frame and ("AVAL" in frame or "AVALC" in frame):
            mask = np.ones(len(frame), dtype=bool)
            for col in ("AVAL", "AVALC"):
                if col in frame:
                    mask &= _blank(frame[col])
            yield Hit(name, "AVAL", mask, _shown(frame, mask, "PARAMCD"))


@conformance_rule("ADAM-CNSR", "error",
                  "CNSR is missing or not a non-negative integer (0 = event, positive integers = censored)")
def cnsr_values(package: Package) -> Iterable[Hit]:
    for name, _spec, frame in _adam(package):
        if "CNSR" in frame:
            values = pd.to_numeric(frame["CNSR"], errors="coerce").to_numpy(dtype=float)
            with np.errstate(invalid="ignore"):
                mask = ~((values >= 0) & (np.floor(values) == values))  # NaN compares False: a finding
            yield Hit(name, "CNSR", mask, _shown(frame, mask, "PARAMCD", "CNSR") if "PARAMCD" in frame
                      else _shown(frame, mask, "CNSR"))


@conformance_rule("ADAM-TTE-ADT", "error",
                  "time-to-event record (with CNSR) has no ADT (a missing AVAL is ADAM-AVAL's finding)")
def tte_dates(package: Package) -> Iterable[Hit]:
    for name, _spec, frame in _adam(package):
        if "CNSR" in frame:
            if "ADT" not in frame:
                yield Hit(name, "ADT", np.array([True]), detail="variable absent", dataset_level=True)
                continue
            mask = _blank(frame["ADT"])
            yield Hit(name, "ADT", mask, _shown(frame, mask, "PARAMCD") if "PARAMCD" in frame else _shown(frame, mask))


def _population_flags(package: Package) -> tuple[set[str], set[str]]:
    """(subject-level population flags: Y or N, never null; record- and parameter-level ones: Y or null),
    as ADaMIG's Population Indicator variable sets list them."""
    ig = package.adamig
    if ig is None:
        return set(POPULATION_FLAGS), set()
    named = ig["variable_set"].str.startswith("Population Indicator") & ig["name"].str.fullmatch(r"[A-Z0-9]+")
    subject = ig["dataset"] == ADAM_STRUCTURES["SUBJECT LEVEL ANALYSIS DATASET"]
    return set(ig.loc[named & subject, "name"]), set(ig.loc[named & ~subject, "name"])


def _flags(frame: pd.DataFrame, suffix: str) -> list[str]:
    return [c for c in frame.columns if c.endswith(suffix) and len(c) > len(suffix)]


@conformance_rule("ADAM-FL", "error", "flag variable (*FL) holds a value other than Y, N or null")
def flag_values(package: Package) -> Iterable[Hit]:
    for name, _spec, frame in _adam(package):
        for col in _flags(frame, "FL"):
            values = _text(frame[col])
            mask = (values.notna() & ~values.isin(["Y", "N"])).to_numpy(dtype=bool)
            yield Hit(name, col, mask, _shown(frame, mask, col))


@conformance_rule("ADAM-POPFL", "error",
                  "subject-level population flag is null (Y or N), or a record- or parameter-level one is N "
                  "(Y or null)")
def population_flags(package: Package) -> Iterable[Hit]:
    subject_level, record_level = _population_flags(package)
    for name, _spec, frame in _adam(package):
        for col in sorted(subject_level & set(frame.columns)):
            mask = frame[col].isna().to_numpy(dtype=bool)
            yield Hit(name, col, mask, _shown(frame, mask))
        for col in sorted(record_level & set(frame.columns)):
            mask = (_text(frame[col]) == "N").fillna(False).to_numpy(dtype=bool)
            yield Hit(name, col, mask, _shown(frame, mask, col))


@conformance_rule("ADAM-FN", "error", "numeric flag (*FN) does not match its *FL (Y = 1, N = 0, null = null)")
def flag_numbers(package: Package) -> Iterable[Hit]:
    for name, _spec, frame in _adam(package):
        for col in _flags(frame, "FN"):
            flag = col[:-1] + "L"
            if flag not in frame:
                continue
            expected = _text(frame[flag]).map({"Y": 1.0, "N": 0.0}).astype("Float64")
            actual = pd.to_numeric(frame[col], errors="coerce").astype("Float64")
            same = (expected == actual).fillna(False) | (expected.isna() & actual.isna())
            mask = ~same.to_numpy(dtype=bool)
            yield Hit(name, col, mask, _shown(frame, mask, flag, col))


def _timing_kind(variable: str) -> str | None:
    """'DTM', 'DT' or 'TM' for ADaM numeric timing variables (*DTM, *DT, *TM), else None."""
    for kind in ("DTM", "DT", "TM"):
        if variable.endswith(kind) and len(variable) > len(kind):
            return kind
    return None


@conformance_rule("ADAM-DATE-NUM", "error", "date/time variable (*DT, *DTM, *TM) is not numeric")
def dates_numeric(package: Package) -> Iterable[Hit]:
    for name, spec, frame in _adam(package):
        for var in spec.variables:
            if _timing_kind(var.name) and (var.type != "Num" or (var.name in frame and frame[var.name].dtype.kind
                                                                    not in "iuf")):
                yield Hit(name, var.name, np.array([True]), (var.type,), dataset_level=True,
                          detail=f"{name}.{var.name} is {var.type} ({frame[var.name].dtype if var.name in frame else 'absent'})")


@conformance_rule("ADAM-DATE-FMT", "warning",
                  "numeric date/time variable (*DT, *DTM, *TM) has no date, datetime or time display format")
def dates_formatted(package: Package) -> Iterable[Hit]:
    for name, spec, _frame in _adam(package):
        for var in spec.variables:
            kind = _timing_kind(var.name)
            if kind and var.type == "Num" and not DATE_FORMATS[kind].match((var.format or "").upper()):
                yield Hit(name, var.name, np.array([True]), (var.format or "",), dataset_level=True,
                          detail=f"{name}.{var.name} format {var.format or 'none'!s}")


#: subject-level treatment variables that BDS and OCCDS datasets copy from ADSL
TREATMENT = re.compile(r"^(TRT\d\d[PA]N?|TR\d\d[PA]G\d{1,2}N?|TRT[SE]DTM?|TR\d\d[SE]DTM?|TRTP|TRTA)$")


@conformance_rule("ADAM-TRT-ADSL", "error",
                  "treatment variable (TRTxxP/A, TRTSDT...) differs from ADSL's value for the subject")
def treatment_matches_adsl(package: Package) -> Iterable[Hit]:
    adsl = _adsl(package)
    if adsl is None:
        return
    first = adsl.drop_duplicates("USUBJID")
    index = pd.Index(_text(first["USUBJID"]))
    for name, spec, frame in _adam(package):
        if spec.dataset_class.upper() == "SUBJECT LEVEL ANALYSIS DATASET" or "USUBJID" not in frame:
            continue
        # the subject's ADSL record: each distinct subject looked up once (a missing one matches a missing one)
        codes, subjects = _subject_codes(frame)
        missing_at = int(np.flatnonzero(index.isna())[0]) if index.hasnans else -1
        at = np.append(index.get_indexer(pd.Index(subjects, dtype=index.dtype)), missing_at)[codes]
        for col in [c for c in frame.columns if TREATMENT.match(c) and c in first.columns and c not in ("TRTP", "TRTA")]:
            same = _same_as_subject(frame[col], first[col], at)
            if same is not None:
                mask = ~same & (at >= 0)  # subjects not in ADSL: ADAM-SUBJ-ADSL
                yield Hit(name, col, mask, _shown(frame, mask, col))
                continue
            mine = frame[col].reset_index(drop=True)
            theirs = first[col].reset_index(drop=True).reindex(at).reset_index(drop=True)
            if mine.dtype.kind == "f" or theirs.dtype.kind == "f":
                a, b = pd.to_numeric(mine, errors="coerce"), pd.to_numeric(theirs, errors="coerce")
            else:
                a, b = _text(mine), _text(theirs)
            same = (a == b).fillna(False) | (a.isna() & b.isna())
            mask = ~same.to_numpy(dtype=bool) & (at >= 0)  # subjects not in ADSL: ADAM-SUBJ-ADSL
            yield Hit(name, col, mask, _shown(frame, mask, col))


def _seq_column(source: pd.DataFrame, dataset: str) -> str | None:
    for col in (f"{dataset}SEQ", "ASEQ"):
        if col in source:
            return col
    return None


@conformance_rule("ADAM-SRC", "error",
                  "SRCDOM/SRCVAR/SRCSEQ do not resolve to a variable and record of the subject in the source dataset")
def source_resolves(package: Package) -> Iterable[Hit]:
    # a source column's factorisation, for every dataset pointing at it (ADLB and ADTTE both at LB)
    known: dict[tuple[str, str], tuple[np.ndarray, pd.Index]] = {}
    for name, _spec, frame in _adam(package):
        if "SRCDOM" not in frame:
            continue
        if package.sdtm is None:
            yield Hit(name, "SRCDOM", np.array([True]), detail="the SDTM datasets were not given", not_run=True)
            continue
        sources = {**package.sdtm, **{n: f for n, _s, f in _adam(package)}}
        dom = _text(frame["SRCDOM"])
        dom_codes, dom_values = _factorised(dom)
        var = _text(frame["SRCVAR"]) if "SRCVAR" in frame else pd.Series(pd.NA, index=frame.index, dtype="string[pyarrow]")
        seq = pd.to_numeric(frame["SRCSEQ"], errors="coerce") if "SRCSEQ" in frame else pd.Series(np.nan, index=frame.index)
        bad = np.zeros(len(frame), dtype=bool)
        # SRCVAR or SRCSEQ without SRCDOM points nowhere
        bad |= (dom.isna() & (var.notna() | seq.notna())).to_numpy(dtype=bool)
        var_codes, var_values = _factorised(var)
        subjects, seqs = _subject_codes(frame), _factorised(seq)  # once, whatever the number of sources
        for code, source_name in enumerate(dom_values):  # a handful of source datasets, not rows
            rows = dom_codes == code
            source = sources.get(source_name)
            if source is None:
                bad |= rows
                continue
            # SRCVAR judged once per distinct value (a missing SRCVAR is no fault here)
            known_var = np.append(var_values.isin(list(source.columns)), True)[var_codes]
            bad |= rows & ~known_var
            seq_col = _seq_column(source, source_name)
            # (USUBJID, SEQ) of the asked records among the source's, as integer pairs in the source's
            # numbering (a missing value matches a missing value, as a merge on the columns would)
            if (source_name, "USUBJID") not in known:
                known[source_name, "USUBJID"] = _subject_codes(source)
            subject_asked, subject_known = _shared_codes(subjects, known[source_name, "USUBJID"])
            if seq_col:
                if (source_name, seq_col) not in known:
                    known[source_name, seq_col] = _factorised(pd.to_numeric(source[seq_col], errors="coerce"))
                seq_asked, seq_known = _shared_codes(seqs, known[source_name, seq_col])
            else:  # no record-level source: the subject alone
                seq_asked, seq_known = np.zeros(len(subject_asked), np.int64), np.zeros(len(subject_known), np.int64)
            subject_asked, seq_asked = subject_asked[rows], seq_asked[rows]
            width = int(seq_known.max(initial=0)) + 2
            found = (subject_asked >= 0) & (seq_asked >= 0)
            found &= _pairs_in(subject_asked * width + seq_asked, subject_known * width + seq_known, found)
            if seq_col is not None:  # a record-level source: SRCSEQ must name one of the subject's records
                found &= seqs[0][rows] >= 0
            bad[rows] |= ~found
        yield Hit(name, "SRCSEQ", bad, _shown(frame, bad, *[c for c in ("SRCDOM", "SRCVAR", "SRCSEQ") if c in frame]))


def _pairs_in(asked: np.ndarray, known: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Whether each ``asked`` key (where ``valid``; non-negative integers) is among the ``known`` ones: a table
    of flags indexed by key when the keys are dense enough (subject x --SEQ codes), else a hash lookup."""
    keys = np.where(valid, asked, 0)
    space = int(max(keys.max(initial=0), known.max(initial=0))) + 1
    if space > 8 * (len(keys) + len(known)) + (1 << 20):
        return pd.Index(keys).isin(known)
    table = np.zeros(space, dtype=bool)
    table[known] = True
    return table[keys]


def _types(rows: pd.DataFrame) -> tuple[dict[str, str], list[tuple[re.Pattern, str]]]:
    """ADaMIG types by exact name, and by placeholder name pattern (TRTxxPN, CRITy)."""
    exact = dict(zip(rows["name"], rows["type"]))
    families = [(p, t) for n, t in zip(rows["name"], rows["type"])
                if re.search(r"[a-z]", n) and (p := _placeholder(n)) is not None]
    return exact, families


def _ig_type(variable: str, *tables: tuple[dict[str, str], list]) -> str | None:
    for exact, families in tables:
        found = exact.get(variable) or next((t for p, t in families if p.match(variable)), None)
        if found:
            return found
    return None


@conformance_rule("ADAMIG-TYPE", "error", "variable type differs from the ADaMIG type")
def adamig_types(package: Package) -> Iterable[Hit]:
    """The type of the variable in the dataset's own ADaMIG structure (ADSL, BDS), else in ADSL's: ADaMIG
    lets any ADSL variable be copied into an analysis dataset (so OCCDS is checked for those too)."""
    adam = list(_adam(package))
    if not adam:
        return
    if package.adamig is None:
        raise NotRun("no ADaMIG variable metadata was given (study.yaml standards.adamig)")
    ig = package.adamig
    adsl = _types(ig[ig["dataset"] == ADAM_STRUCTURES["SUBJECT LEVEL ANALYSIS DATASET"]])
    for name, spec, _frame in adam:
        structure = ADAM_STRUCTURES.get(spec.dataset_class.upper())
        own = _types(ig[ig["dataset"] == structure]) if structure else ({}, [])
        for var in spec.variables:
            expected = _ig_type(var.name, own, adsl)
            if expected and expected != var.type:
                yield Hit(name, var.name, np.array([True]), (var.type, expected), dataset_level=True,
                          detail=f"{name}.{var.name}: spec says {var.type}, ADaMIG says {expected}")
