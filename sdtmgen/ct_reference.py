"""Controlled terminology by reference: codelists filled from the packaged NCI CT or a CSV codelist file.

A codelist of ``terminology.yaml`` may be written out term by term, or given by reference:

* ``nci: C66742`` takes the codelist from the NCI SDTM CT package that ``study.yaml``
  ``standards.ct`` names (shipped in ``sdtmgen/standards/data/ct``): its id (the codelist's
  submission value), name, extensibility, and every term with its C-code, submission value, decode
  (NCI preferred term) and CDISC synonyms, in submission-value order. A CDISC synonym that names two
  terms of the same codelist cannot map collected text to one term, so it is left out.
* ``file: ct/sponsor.csv`` takes it from a CSV (or tab-separated) codelist file in the spec folder,
  laid out as the NCI CT export (``Code``, ``Codelist Code``, ``Codelist Extensible (Yes/No)``,
  ``Codelist Name``, ``CDISC Submission Value``, ``CDISC Synonym(s)``, ``NCI Preferred Term``) or
  as a sponsor's list (``codelist``, ``code``, ``value``, ``decode``, ``synonyms``, optional
  ``codelist_name``, ``extensible``); ``codelist:`` picks one when the file holds several.

Either form may add ``terms: [...]`` (only these submission values, in this order, each checked to
exist), ``synonyms: {collected text: submission value}`` (the sponsor's synonyms) and, for an
extensible codelist only, ``extensions:`` (sponsor terms, marked as extensions, without C-code).
Every problem is a SpecError naming file, line, codelist and value. ``sdtmgen ct import`` writes
the same codelists out as YAML (:func:`codelists_yaml`).
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml
from pydantic import ValidationError

from sdtmgen.errors import SpecError
from sdtmgen.standards import read_sponsor_text
from sdtmgen.terminology import Codelist, CodelistRef, Term, Terminology

Where = Callable[[tuple[Any, ...]], str]

#: CSV column (lower-cased, spaces collapsed) -> field; the NCI CT export's names and plain ones
CSV_COLUMNS = {
    "code": "code", "term code": "code", "term_code": "code", "c-code": "code",
    "codelist code": "codelist", "codelist": "codelist", "codelist_code": "codelist",
    "cdisc submission value": "value", "submission value": "value", "submission_value": "value", "value": "value",
    "nci preferred term": "decode", "preferred term": "decode", "preferred_term": "decode", "decode": "decode",
    "cdisc synonym(s)": "synonyms", "synonym(s)": "synonyms", "synonyms": "synonyms", "synonym": "synonyms",
    "codelist extensible (yes/no)": "extensible", "extensible": "extensible",
    "codelist name": "codelist_name", "codelist_name": "codelist_name",
    # sdtm.oak's study CT (ct_spec): one row per collected text; raw_codelist names the eCRF's list (not kept)
    "term_value": "value", "collected_value": "collected", "term_preferred_term": "decode",
    "term_synonyms": "synonyms", "raw_codelist": "raw_codelist",
}
#: columns that make a file sdtm.oak's study CT layout
OAK_COLUMNS = {"codelist_code", "term_value", "collected_value"}
C_CODE = re.compile(r"^C\d+$")
CODELIST_ID = re.compile(r"^[A-Z][A-Z0-9_]*$")


def _synonyms(text: str) -> list[str]:
    out: list[str] = []
    for part in (text or "").split(";"):
        part = part.strip()
        if part and part not in out:
            out.append(part)
    return out


# ---- the packaged NCI CT -------------------------------------------------------------------------

@lru_cache(maxsize=4)
def _ct_index(version: str) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """(the packaged NCI SDTM CT frame, codelist C-code -> position of its row, -> positions of its terms)."""
    from sdtmgen.standards import controlled_terminology

    ct = controlled_terminology(version, "SDTM")
    is_head = (ct["codelist"] == "").to_numpy()
    heads = dict(zip(ct["code"].to_numpy()[is_head], is_head.nonzero()[0]))
    return ct, heads, ct.groupby("codelist", sort=False).indices


def nci_codelist(version: str, code: str) -> Codelist | None:
    """The whole NCI codelist ``code`` of CT package ``version`` (None if the package has no such codelist);
    terms in submission-value order, CDISC synonyms that name two of its terms left out."""
    ct, heads, members = _ct_index(version)
    if code not in heads:
        return None
    head = ct.iloc[heads[code]]
    rows = ct.iloc[members.get(code, [])].to_dict("records")
    terms = [Term(value=r["value"], code=r["code"], decode=r["preferred_term"] or None,
                  synonyms=_synonyms(r["synonyms"]))
             for r in sorted(rows, key=lambda r: r["value"])]
    # not validated here: a decode naming two terms (a few in the NCI file) stops only a codelist that keeps both
    return Codelist.model_construct(id=head["value"], name=head["codelist_name"], code=code,
                                    extensible=head["extensible"] == "Yes", data_type="text", case_sensitive=False,
                                    terms=_unambiguous(terms))


def _unambiguous(terms: list[Term]) -> list[Term]:
    """The terms with every synonym that also names another term (its value, decode or synonym) left out."""
    owners: dict[str, set[str]] = {}
    for term in terms:
        for text in [term.value, term.decode, *term.synonyms]:
            if text is not None:
                owners.setdefault(text.strip(), set()).add(term.value)
    return [term.model_copy(update={"synonyms": [s for s in term.synonyms if len(owners[s.strip()]) == 1]})
            for term in terms]


def ct_version_problem(version: str) -> str | None:
    from sdtmgen.standards import UnknownStandard, standard_folder

    try:
        standard_folder("ct", version)
    except UnknownStandard as exc:
        return str(exc)
    return None


# ---- CSV codelist files --------------------------------------------------------------------------

def read_codelist_csv(path: Path, shown: str | None = None, select: Iterable[str] | None = None,
                      version: str | None = None) -> list[Codelist]:
    """The codelists of a CSV/TSV codelist file, in file order; SpecError naming file, line and value.

    ``select``: only these codelists (ids or C-codes), each of which must be in the file; the others are
    not checked (a whole NCI CT export can be read for the few codelists a study takes from it).

    sdtm.oak's study CT layout (``codelist_code``, ``term_code``, ``term_value``, ``collected_value``,
    ``term_preferred_term``, ``term_synonyms``, optional ``raw_codelist``; detected from the header) has one
    row per collected text and no codelist rows: the rows of one term are merged, each collected text
    becoming a synonym of the term, and a codelist's id, name and extensibility are those of its C-code in
    the packaged NCI CT ``version`` (default: the newest packaged); a term code that is not an NCI C-code
    (a sponsor's, e.g. V00224) makes a sponsor term, allowed in an extensible codelist only.
    """
    shown = shown or str(path)
    text = read_sponsor_text(path, "codelist file", shown)
    first = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t" if "\t" in first else ",")
    try:
        header = next(reader, None)
        if not header:
            raise SpecError(f"{shown}:1: codelist file is empty (expected a header row)")
        fields = [CSV_COLUMNS.get(" ".join(h.split()).lower()) for h in header]
        missing = [name for name in ("codelist", "value") if name not in fields]
        if missing:
            raise SpecError(f"{shown}:1: codelist file has no {' or '.join(missing)} column (header {header}; "
                            f"expected the NCI CT export's columns or codelist, code, value, decode, synonyms)")
        rows = []
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > len(header):
                raise SpecError(f"{shown}:{reader.line_num}: {len(cells)} cells in a row of {len(header)} columns")
            row = {f: cells[k].strip() if k < len(cells) else "" for k, f in enumerate(fields) if f}
            rows.append((reader.line_num, row))
    except csv.Error as exc:
        raise SpecError(f"{shown}:{reader.line_num}: codelist file cannot be read as CSV ({exc})") from None
    if OAK_COLUMNS <= {" ".join(h.split()).lower() for h in header}:
        rows = _oak_rows(rows, shown, version)
    return _codelists_from_rows(rows, shown, None if select is None else list(select))


def _oak_rows(rows: list[tuple[int, dict[str, str]]], shown: str,
              version: str | None) -> list[tuple[int, dict[str, str]]]:
    """sdtm.oak's rows as the plain layout: one row per term (its collected texts added to its synonyms, a
    code that is not a C-code dropped: a sponsor term), and a codelist row per C-code from the NCI CT."""
    from sdtmgen.standards import versions

    version = version or versions("ct")[-1]
    terms: dict[tuple[str, str], tuple[int, dict[str, str]]] = {}
    problems: list[str] = []
    for line, row in rows:
        key = (row.get("codelist", ""), row.get("value", ""))
        texts = _synonyms(row.get("synonyms", "")) + _synonyms(row.get("collected", ""))
        code = row.get("code", "") if C_CODE.match(row.get("code", "")) else ""
        if key not in terms:
            terms[key] = (line, {"codelist": key[0], "value": key[1], "code": code, "decode": row.get("decode", ""),
                                 "synonyms": "; ".join(texts)})
            continue
        first_line, merged = terms[key]
        if code != merged["code"]:
            problems.append(f"{shown}:{line}: codelist {key[0]}: term {key[1]!r} has code {row.get('code')!r} here "
                            f"and {merged['code'] or 'none'} at line {first_line}")
        merged["synonyms"] = "; ".join(_synonyms(merged["synonyms"]) + [t for t in texts
                                                                          if t not in _synonyms(merged["synonyms"])])
    heads: dict[str, tuple[int, dict[str, str]]] = {}
    for line, row in terms.values():
        code = row["codelist"]
        if code in heads or not C_CODE.match(code):
            continue  # a codelist named otherwise is a sponsor codelist, as in the plain layout
        nci = nci_codelist(version, code)
        if nci is None:
            problems.append(f"{shown}:{line}: codelist {code} is not in NCI SDTM CT {version} (packaged with "
                            f"sdtmgen): its id, name and extensibility are unknown")
            continue
        heads[code] = (line, {"codelist": "", "code": code, "value": nci.id, "codelist_name": nci.name,
                              "extensible": "Yes" if nci.extensible else "No"})
    if problems:
        raise SpecError("invalid codelist file\n" + "\n".join(problems))
    return list(heads.values()) + sorted(terms.values(), key=lambda item: item[0])


def _yes_no(text: str, at: str, problems: list[str]) -> bool:
    value = text.strip().lower()
    if value in ("yes", "y", "true"):
        return True
    if value in ("", "no", "n", "false"):
        return False
    problems.append(f"{at}: extensible must be Yes or No, got {text!r}")
    return False


def _names(keys: list[str]) -> str:
    return ", ".join(keys[:10]) + (f" and {len(keys) - 10} more" if len(keys) > 10 else "")


def _codelists_from_rows(rows: list[tuple[int, dict[str, str]]], shown: str,
                         select: list[str] | None = None) -> list[Codelist]:
    problems: list[str] = []
    heads: dict[str, tuple[int, dict[str, str]]] = {}
    for line, row in rows:
        if not row.get("codelist"):
            code = row.get("code", "")
            if not C_CODE.match(code):
                problems.append(f"{shown}:{line}: a codelist row (empty codelist column) needs its C-code in the "
                                f"code column, got {code!r}")
            elif code in heads:
                problems.append(f"{shown}:{line}: codelist {code} is given twice (first at line {heads[code][0]})")
            else:
                heads[code] = (line, row)
    order: list[str] = []
    members: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for line, row in rows:
        key = row.get("codelist", "")
        if key:
            if key not in members:
                order.append(key)
            members.setdefault(key, []).append((line, row))
    if select is not None:
        ids = {key: heads[key][1].get("value", "") if key in heads else key for key in order}
        missing = [name for name in select if not any(name in (key, ids[key]) for key in order)]
        if missing:
            raise SpecError(f"{shown}: codelist {', '.join(repr(m) for m in missing)} is not in the file (it holds "
                            f"{_names([ids[k] for k in order])})")
        order = [key for key in order if key in select or ids[key] in select]
        heads = {code: head for code, head in heads.items() if code in order}
    for code in heads:
        if code not in members:
            problems.append(f"{shown}:{heads[code][0]}: codelist {code} has no terms")
    out: list[Codelist] = []
    for key in order:
        first = members[key][0][0]
        if key in heads:
            head = heads[key][1]
            cl_id, code, name = head.get("value", ""), key, head.get("codelist_name") or head.get("value", "")
            extensible = _yes_no(head.get("extensible", ""), f"{shown}:{heads[key][0]}", problems)
        elif C_CODE.match(key):
            problems.append(f"{shown}:{first}: codelist {key}: no codelist row for it (a row with an empty codelist "
                            f"column and code {key})")
            continue
        else:
            cl_id, code = key, None
            name = next((r.get("codelist_name") for _, r in members[key] if r.get("codelist_name")), key)
            extensible = any(_yes_no(r.get("extensible", ""), f"{shown}:{ln}", problems) for ln, r in members[key])
        if not CODELIST_ID.match(cl_id):
            problems.append(f"{shown}:{first}: codelist id {cl_id!r} must be upper-case letters, digits and _")
            continue
        terms = []
        for line, row in members[key]:
            term_code = row.get("code") or None
            if not row.get("value"):
                problems.append(f"{shown}:{line}: codelist {cl_id}: a term without a submission value")
                continue
            if term_code is not None and not C_CODE.match(term_code):
                problems.append(f"{shown}:{line}: codelist {cl_id}: term {row['value']!r}: code {term_code!r} is "
                                f"not an NCI C-code")
                continue
            extended = code is not None and term_code is None
            if extended and not extensible:
                problems.append(f"{shown}:{line}: codelist {cl_id} ({code}) is not extensible: sponsor term "
                                f"{row['value']!r} (no C-code) cannot be added")
                continue
            terms.append(Term(value=row["value"], code=term_code, decode=row.get("decode") or None,
                              synonyms=_synonyms(row.get("synonyms", "")),
                              extended=extended))
        if code is not None:  # a CDISC codelist: its synonyms as the NCI file has them (see nci_codelist)
            terms = _unambiguous(terms)
        try:
            out.append(Codelist(id=cl_id, name=name, code=code, extensible=extensible, terms=terms))
        except ValidationError as exc:
            problems += [f"{shown}:{first}: codelist {cl_id}: {e['msg']}" for e in exc.errors()]
    if problems:
        raise SpecError("invalid codelist file\n" + "\n".join(problems))
    if not out:
        raise SpecError(f"{shown}: codelist file has no codelists")
    return out


# ---- resolving terminology.yaml ------------------------------------------------------------------

def resolve_terminology(terminology: Terminology, folder: Path, version: str, where: Where) -> Terminology:
    """terminology.yaml with every codelist by reference (nci:, file:) replaced by the codelist it stands for.

    ``version``: the NCI CT package (``study.yaml`` ``standards.ct``); ``where(loc)``: ``file:line`` of a
    location in terminology.yaml. All problems are gathered into one SpecError.
    """
    if not terminology.references():
        return terminology
    problems: list[str] = []
    resolved: list[Codelist] = []
    first_line: dict[str, str] = {}
    for i, entry in enumerate(terminology.codelists):
        if isinstance(entry, Codelist):
            codelist: Codelist | None = entry
        else:
            codelist = _resolve_entry(entry, Path(folder), version, lambda *loc, i=i: where(("codelists", i, *loc)),
                                      problems)
        if codelist is None:
            continue
        at = where(("codelists", i))
        if codelist.id in first_line:
            problems.append(f"{at}: codelist {codelist.id} is defined twice (first at {first_line[codelist.id]})")
        first_line.setdefault(codelist.id, at)
        resolved.append(codelist)
    if problems:
        raise SpecError("invalid spec\n" + "\n".join(problems))
    return Terminology(ct_package=terminology.ct_package, codelists=resolved, dictionaries=terminology.dictionaries)


def _resolve_entry(entry: CodelistRef, folder: Path, version: str, at: Callable[..., str],
                   problems: list[str]) -> Codelist | None:
    if entry.nci is not None:
        unknown = ct_version_problem(version)
        if unknown:
            problems.append(f"{at('nci')}: codelist {entry.nci}: {unknown} (study.yaml standards.ct)")
            return None
        base = nci_codelist(version, entry.nci)
        origin = f"NCI SDTM CT {version}"
        if base is None:
            problems.append(f"{at('nci')}: codelist {entry.nci} is not in {origin} (packaged with sdtmgen); "
                            f"check the C-code or standards.ct in study.yaml")
            return None
        if entry.id is not None and entry.id != base.id:
            problems.append(f"{at('id')}: codelist {entry.nci} is {base.id!r} in {origin}, not {entry.id!r}")
            return None
    else:
        from sdtmgen.spec.paths import resolve_spec_path

        origin = str(entry.file)
        try:
            path = resolve_spec_path(folder, origin, None, "file", where=f"{at('file')}: file")
        except SpecError as exc:
            problems.append(str(exc))
            return None
        try:
            found = read_codelist_csv(path, shown=f"{folder / origin}",
                                      select=None if entry.codelist is None else [entry.codelist], version=version)
        except SpecError as exc:
            problems.append(f"{at('file')}: codelist file {origin}: " + str(exc).replace("invalid codelist file\n", ""))
            return None
        base = _pick(found, entry, at, origin, problems)
        if base is None:
            return None
        if entry.id is not None and entry.id != base.id:
            if base.code:
                problems.append(f"{at('id')}: codelist {base.code} is {base.id!r} in {origin}, not {entry.id!r}")
                return None
            base = base.model_copy(update={"id": entry.id})
    return _apply(entry, base, at, origin, problems)


def _pick(found: list[Codelist], entry: CodelistRef, at: Callable[..., str], origin: str,
          problems: list[str]) -> Codelist | None:
    if entry.codelist is None:
        if len(found) == 1:
            return found[0]
        problems.append(f"{at('file')}: {origin} holds {len(found)} codelists "
                        f"({_names([c.id for c in found])}); name one with 'codelist:'")
        return None
    match = [c for c in found if entry.codelist in (c.id, c.code)]
    if not match:
        problems.append(f"{at('codelist')}: codelist {entry.codelist!r} is not in {origin} "
                        f"(it holds {', '.join(c.id for c in found)})")
        return None
    return match[0]


def _apply(entry: CodelistRef, base: Codelist, at: Callable[..., str], origin: str,
           problems: list[str]) -> Codelist | None:
    """The sponsor's subset, extensions and synonyms applied to a codelist taken by reference."""
    before = len(problems)
    label = f"codelist {base.id}" + (f" ({base.code})" if base.code else "")
    terms = list(base.terms)
    if entry.terms is not None:
        by_value = {t.value: t for t in terms}
        terms = []
        for j, value in enumerate(entry.terms):
            if value in by_value:
                terms.append(by_value[value])
                continue
            close = difflib.get_close_matches(value, list(by_value), n=3)
            hint = f" (close: {', '.join(close)})" if close else ""
            problems.append(f"{at('terms', j)}: {label}: term {value!r} is not in the codelist in {origin}{hint}")
        if entry.nci is not None:
            terms = _unambiguous(terms)
    terms = [t.model_copy(update={"synonyms": list(t.synonyms)}) for t in terms]
    for j, extension in enumerate(entry.extension_terms()):
        if not base.extensible:
            problems.append(f"{at('extensions', j)}: {label} is not extensible in {origin}: sponsor term "
                            f"{extension.value!r} cannot be added")
        elif extension.value in {t.value for t in base.terms}:
            listed = entry.terms is None or extension.value in entry.terms
            problems.append(f"{at('extensions', j)}: {label}: {extension.value!r} is already a term of the codelist "
                            f"in {origin}" + ("" if listed else "; list it in 'terms' instead"))
        else:
            terms.append(Term(value=extension.value, decode=extension.decode, synonyms=extension.synonyms,
                              extended=True))
    owners: dict[str, str] = {}
    for term in terms:
        owners.setdefault(term.value.strip(), term.value)
    for term in terms:
        for text in [term.decode, *term.synonyms]:
            if text is not None:
                owners.setdefault(text.strip(), term.value)
    by_value = {t.value: t for t in terms}
    for raw, target in entry.synonyms.items():
        if target not in by_value:
            problems.append(f"{at('synonyms', raw)}: {label}: synonym {raw!r} maps to {target!r}, which is not "
                            f"{'a term of the codelist' if entry.terms is None else 'among its terms listed'}")
        elif owners.setdefault(raw.strip(), target) != target:
            problems.append(f"{at('synonyms', raw)}: {label}: synonym {raw!r} -> {target!r}, but {raw!r} already "
                            f"means {owners[raw.strip()]!r}")
        elif raw not in by_value[target].synonyms and raw != target:
            by_value[target].synonyms.append(raw)
    if len(problems) > before:
        return None
    update: dict[str, Any] = {"id": entry.id or base.id, "terms": terms}
    if entry.data_type is not None:
        update["data_type"] = entry.data_type
    if entry.case_sensitive is not None:
        update["case_sensitive"] = entry.case_sensitive
    try:
        return Codelist.model_validate({**base.model_dump(), **update,
                                        "terms": [t.model_dump() for t in terms]})
    except ValidationError as exc:
        hint = "; list the terms needed with 'terms:'" if entry.nci is not None and entry.terms is None else ""
        problems += [f"{at()}: {label} in {origin}: {e['msg']}{hint}" for e in exc.errors()]
        return None


# ---- writing YAML (sdtmgen ct import) ------------------------------------------------------------

def codelists_yaml(codelists: Iterable[Codelist], source: str) -> str:
    """The codelists written out as terminology.yaml entries (a list to paste under ``codelists:``)."""
    data = [c.model_dump(exclude_defaults=True) for c in codelists]
    head = (f"# codelists from {source}, written by sdtmgen ct import:\n"
            f"# paste under 'codelists:' in terminology.yaml (or refer to them by 'nci:' or 'file:')\n")
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's: the same text, ~10x faster
    return head + yaml.dump(data, Dumper=dumper, sort_keys=False, allow_unicode=False, width=200,
                            default_flow_style=None)


def import_nci(codes: list[str], version: str) -> str:
    """YAML of NCI codelists (C-codes) of the packaged CT ``version``; SpecError for an unknown one."""
    unknown = ct_version_problem(version)
    if unknown:
        raise SpecError(f"--ct-version: {unknown}")
    found = []
    for code in codes:
        if not C_CODE.match(code):
            raise SpecError(f"--nci {code!r}: not an NCI C-code (C followed by digits, e.g. C66742)")
        codelist = nci_codelist(version, code)
        if codelist is None:
            raise SpecError(f"--nci {code}: codelist is not in NCI SDTM CT {version} (packaged with sdtmgen)")
        try:
            found.append(Codelist.model_validate(codelist.model_dump()))
        except ValidationError as exc:
            raise SpecError(f"--nci {code}: codelist {codelist.id} of NCI SDTM CT {version} cannot be used whole: "
                            + "; ".join(e["msg"] for e in exc.errors()) + f"; in terminology.yaml, take the terms "
                            f"needed: '- {{nci: {code}, terms: [...]}}'") from None
    return codelists_yaml(found, f"NCI SDTM CT {version}")


def import_csv(path: Path, select: Iterable[str] | None = None) -> str:
    """YAML of the codelists of a CSV codelist file (``select``: only these ids or C-codes)."""
    return codelists_yaml(read_codelist_csv(path, select=select), str(path))
