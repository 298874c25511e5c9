"""The standards a study uses: ``study.yaml`` ``standards:`` resolved to packaged or sponsor files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from sdtmgen.errors import SpecError
from sdtmgen.spec.paths import resolve_spec_path
from sdtmgen.standards import UnknownStandard, ctcae_path, packaged_ig, read_ig_file


def _where(spec_folder: Path, key: str) -> str:
    return f"{Path(spec_folder) / 'study.yaml'}: standards.{key}"


def sponsor_file(spec_folder: Path, standards: Any, key: str) -> Path | None:
    """The file named by ``standards.<key>`` (e.g. ctcae_file), confined to the spec folder; must be a file."""
    relative = getattr(standards, key, None)
    if not relative:
        return None
    path = resolve_spec_path(Path(spec_folder), relative, None, f"standards.{key}")
    if not path.is_file():
        raise SpecError(f"{_where(spec_folder, key)}: {relative} is not a readable file ({path})")
    return path


def ig_metadata(spec_folder: Path, standards: Any, kind: str = "sdtmig") -> pd.DataFrame:
    """IG variable metadata (dataset, name, label, type, core, ...) the study names: a sponsor file or packaged."""
    path = sponsor_file(spec_folder, standards, f"{kind}_file")
    if path is not None:
        return read_ig_file(path, kind)
    version = getattr(standards, kind)
    try:
        return packaged_ig(kind, str(version))
    except UnknownStandard as exc:
        raise SpecError(f"{_where(spec_folder, kind)}: {exc}") from None


def ctcae_criteria(spec_folder: Path, standards: Any) -> Path:
    """The CTCAE criteria file the study names: ``ctcae_file``, or the packaged ``ctcae`` version."""
    path = sponsor_file(spec_folder, standards, "ctcae_file")
    if path is not None:
        return path
    try:
        return ctcae_path(str(standards.ctcae), str(getattr(standards, "ctcae_units", "si")))
    except UnknownStandard as exc:
        raise SpecError(f"{_where(spec_folder, 'ctcae')}: {exc}") from None


def define_stylesheet(spec_folder: Path, standards: Any) -> Path | None:
    """The define.xml stylesheet named in the spec (optional), confined to the spec folder."""
    return sponsor_file(spec_folder, standards, "define_stylesheet")


def check_standards(spec: Any) -> None:
    """At spec load: the files study.yaml names exist inside the spec folder, dataset classes and origins
    are terms of the study's Define-XML CT, and the terminology's CT package is the one named in
    ``standards.ct`` (define.xml cites it; the packaged CT is that version)."""
    folder = Path(spec.folder)
    standards = spec.study.standards
    for key in ("sdtmig_file", "adamig_file", "ctcae_file", "define_stylesheet"):
        sponsor_file(folder, standards, key)
    from sdtmgen.define_xml.standards import define_ct_problems
    from sdtmgen.spec.source import spec_location as _where

    problems = define_ct_problems(spec, _where)
    if problems:
        raise SpecError("invalid spec\n" + "\n".join(problems))
    ct_package = str(getattr(spec.terminology, "ct_package", standards.ct))
    if ct_package != str(standards.ct):
        raise SpecError(f"{folder / 'terminology.yaml'}: ct_package {ct_package!r} differs from "
                        f"{folder / 'study.yaml'}: standards.ct {standards.ct!r}; name the same CT package")
    problems = terminology_problems(spec.terminology, str(standards.ct), _where)
    if problems:
        raise SpecError("invalid spec\n" + "\n".join(problems))


def terminology_problems(terminology: Any, version: str, where: Any) -> list[str]:
    """CDISC codelists of terminology.yaml (those with a C-code) checked against the packaged NCI SDTM CT:
    the codelist exists with that submission value and extensibility, and every term that is not a
    sponsor extension has the package's C-code and submission value."""
    from sdtmgen.standards import controlled_terminology

    coded = [(i, c) for i, c in enumerate(terminology.codelists) if c.code]
    if not coded:
        return []
    ct = controlled_terminology(version, "SDTM")
    heads = ct[ct["codelist"] == ""].set_index("code")
    terms = ct[ct["codelist"] != ""].set_index(["codelist", "code"])["value"]
    problems = []
    for i, codelist in coded:
        at = where(terminology, ("codelists", i))
        if codelist.code not in heads.index:
            problems.append(f"{at}: codelist {codelist.id} ({codelist.code}) is not in NCI SDTM CT {version}")
            continue
        head = heads.loc[codelist.code]
        if head["value"] != codelist.id:
            problems.append(f"{at}: codelist {codelist.code} is {head['value']!r} in NCI SDTM CT {version}, "
                            f"not {codelist.id!r}")
        if (head["extensible"] == "Yes") != codelist.extensible:
            problems.append(f"{at}: codelist {codelist.id} is {'' if head['extensible'] == 'Yes' else 'not '}"
                            f"extensible in NCI SDTM CT {version}")
        for j, term in enumerate(codelist.terms):
            if term.extended:
                continue
            value = terms.get((codelist.code, term.code)) if term.code else None
            if value != term.value:
                found = f"is {value!r}" if value is not None else "is not in the codelist"
                problems.append(f"{where(terminology, ('codelists', i, 'terms', j))}: {codelist.id} term "
                                f"{term.value!r} ({term.code or 'no C-code'}): {term.code or 'the term'} {found} in "
                                f"NCI SDTM CT {version} (mark sponsor terms 'extended: true')")
    return problems


def standards_manifest(spec_folder: Path, standards: Any) -> dict[str, dict[str, Any]]:
    """What the build used, for manifest.json: per kind, the packaged version and the SHA-256 of each of its
    packaged files, or the sponsor file named instead and its SHA-256."""
    import hashlib

    from sdtmgen.standards import KINDS, provenance, standard_folder

    out: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        path = sponsor_file(spec_folder, standards, f"{kind}_file") if kind in ("sdtmig", "adamig", "ctcae") else None
        if path is not None:
            out[kind] = {"file": str(path.relative_to(Path(spec_folder).resolve())),
                         "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
            continue
        version = str(getattr(standards, kind))
        folder = standard_folder(kind, version)
        files = sorted(name for fields in provenance(kind, version).values() for name in fields["files"].split(", "))
        out[kind] = {"version": version,
                     "sha256": {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in files}}
    stylesheet = define_stylesheet(spec_folder, standards)
    if stylesheet is not None:
        out["define_stylesheet"] = {"file": str(stylesheet.relative_to(Path(spec_folder).resolve())),
                                    "sha256": hashlib.sha256(stylesheet.read_bytes()).hexdigest()}
    return out
