"""Load a spec folder safely and report every problem with its file and line.

Layout::

    specs/study.yaml          study metadata, visits, elements
    specs/terminology.yaml    codelists (NCI C-codes; by reference: nci: C-code, file: x.csv) and dictionaries
    specs/sdtm/<domain>.yaml  one SDTM domain each
    specs/adam/<dataset>.yaml one ADaM dataset each (optional folder)

YAML is read with the safe loader only; nothing in a spec is executed.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from sdtmgen.adam.checks import adam_reference_problems
from sdtmgen.errors import SpecError
from sdtmgen.spec.models import AdamDatasetSpec, DomainSpec, Spec, StudySpec
from sdtmgen.spec.report import FILE as REPORT_FILE
from sdtmgen.spec.report import ReportConfig
from sdtmgen.spec.source import attach_source, source_of, spec_location
from sdtmgen.spec.source import line_of as _line_of
from sdtmgen.terminology import Terminology


#: Largest number of YAML nodes a spec file may expand to, aliases counted at every use (the
#: example's largest file has ~3,800). Anchors and aliases stay usable, but a file that nests
#: aliases into an exponential document ("billion laughs") stops before anything is built from it.
MAX_NODES = 100_000


def _expanded_size(root: yaml.Node, path: Path) -> None:
    """Refuse a document whose alias expansion exceeds MAX_NODES, or an alias inside its own anchor.

    Each distinct node is sized once (children first, iteratively), so the check costs the size
    of the text, not of the expansion.
    """
    size: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in _children(node))
            continue
        if key in size:
            continue
        if key in on_path:
            raise SpecError(f"{path}:{node.start_mark.line + 1}: an alias refers to the anchor that contains it "
                            f"(a recursive document); specs must be finite trees")
        on_path.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in size)
    if size[id(root)] <= MAX_NODES:
        return
    # name where the expansion happens: follow the largest child while it is over the limit, up to
    # the first alias (a child that starts before its parent: the anchor it names is defined earlier)
    node, where, anchor = root, list[str](), ""
    while True:
        over = [(label, c) for label, c in _labelled_children(node) if size[id(c)] > MAX_NODES]
        if not over:
            break
        label, child = max(over, key=lambda t: size[id(t[1])])
        if child.start_mark.index < node.start_mark.index:
            anchor = f"; it uses the anchor defined at line {child.start_mark.line + 1}"
            break
        node, where = child, where + [label]
    raise SpecError(f"{path}:{node.start_mark.line + 1}: {'.'.join(where) or 'the document'} expands to "
                    f"{size[id(node)]:,} YAML nodes through aliases (*name), more than the {MAX_NODES:,} a spec "
                    f"file may have{anchor}")


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _labelled_children(node: yaml.Node) -> list[tuple[str, yaml.Node]]:
    if isinstance(node, yaml.MappingNode):
        return [(str(k.value) if isinstance(k, yaml.ScalarNode) else "?", v) for k, v in node.value]
    if isinstance(node, yaml.SequenceNode):
        return [(str(i), v) for i, v in enumerate(node.value)]
    return []


def _duplicate_keys(root: yaml.Node, path: Path) -> None:
    """A key given twice in one mapping is an error naming both lines (YAML would keep the last silently)."""
    seen_nodes: set[int] = set()
    stack = [root]
    problems: list[tuple[int, str]] = []
    while stack:
        node = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, str], yaml.Node] = {}
            for key, _ in node.value:
                if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                    continue
                ident = (key.tag, key.value)
                if ident in first:
                    line = key.start_mark.line + 1
                    problems.append((line, f"{path}:{line}: key '{key.value}' is given twice in one mapping "
                                           f"(first at line {first[ident].start_mark.line + 1}); remove one"))
                else:
                    first[ident] = key
        stack.extend(_children(node))
    if problems:
        raise SpecError("invalid spec\n" + "\n".join(message for _, message in sorted(problems)))


def _read(path: Path) -> tuple[Any, yaml.Node | None]:
    try:
        text = path.read_text(encoding="utf-8")
        # only the safe loaders (plain data, no tags that build objects); libyaml's is ~10x faster,
        # with the same nodes and line marks. The document is composed once, checked (size,
        # duplicate keys), then built from the same nodes.
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None, None
            _expanded_size(node, path)
            _duplicate_keys(node, path)
            return loader.construct_document(node), node
        finally:
            loader.dispose()
    except FileNotFoundError:
        raise SpecError(f"{path}: spec file not found") from None
    except IsADirectoryError:
        raise SpecError(f"{path}: is a folder, not a spec file; rename or remove it") from None
    except OSError as exc:  # a FIFO, a device, unreadable: not a spec file (no space/permission is reported as is)
        if not path.is_file():
            raise SpecError(f"{path}: not a regular file ({exc.strerror or exc})") from None
        raise
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except RecursionError:
        raise SpecError(f"{path}: nested too deeply to read") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise SpecError(f"{path}{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None


def read_yaml(path: Path) -> Any:
    """The data of one spec file, with the checks every spec file gets (no model)."""
    return _read(path)[0]


def load_model(path: Path, model: type[M], key: str | None = None) -> M:
    data, node = _read(path)
    if key is not None:
        if not isinstance(data, dict) or key not in data:
            raise SpecError(f"{path}:1: expected a top-level '{key}:' mapping")
        data = data[key]
        node = next((v for k, v in node.value if k.value == key), node) if isinstance(node, yaml.MappingNode) else node
    try:
        result = model.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
                loc += (str(err.get("ctx", {}).get("discriminator", "")).strip("'"),)
            line = _line_of(node, loc)
            where = ".".join(str(p) for p in err["loc"])
            lines.append(f"{path}:{line or 1}: {where}: {err['msg']}")
        raise SpecError("invalid spec\n" + "\n".join(lines)) from None
    problems = [(loc, f"{'.'.join(map(str, loc))}: {value} is not a finite number (a YAML .inf or .nan, or a "
                      f"number too large for a float); numbers in a spec must be finite")
                for loc, value in _non_finite(result, ())]
    problems += result.problems() if hasattr(result, "problems") else []
    if problems:
        raise SpecError("invalid spec\n" + "\n".join(
            f"{path}:{_line_of(node, loc) or 1}: {message}" for loc, message in problems))
    attach_source(result, path, node)
    return result


def _non_finite(value: Any, loc: tuple[Any, ...]) -> list[tuple[tuple[Any, ...], float]]:
    """Every infinite or NaN number of a loaded model, with its location (YAML keys and list positions).

    YAML reads ``.inf``, ``.nan`` and ``1.0e400`` as such floats, and pydantic turns the text ``1e400``
    into one: none of them is a value a study can mean, and each would reach the datasets unnoticed.
    """
    if isinstance(value, float):
        return [] if math.isfinite(value) else [(loc, value)]
    if isinstance(value, BaseModel):
        return [hit for name, field in type(value).model_fields.items()
                for hit in _non_finite(getattr(value, name, None), loc + (field.alias or name,))]
    if isinstance(value, (list, tuple)):
        return [hit for i, item in enumerate(value) for hit in _non_finite(item, loc + (i,))]
    if isinstance(value, dict):
        return [hit for key, item in value.items() for hit in _non_finite(item, loc + (key,))]
    return []


_where = spec_location

#: a spec file's model
M = TypeVar("M", bound=BaseModel)


def load_terminology(folder: str | Path, ct_version: str | None = None) -> Terminology:
    """terminology.yaml of a spec folder, its codelists by reference (nci:, file:) filled from the packaged
    NCI CT ``ct_version`` (by default study.yaml's ``standards.ct``) or the CSV file they name."""
    folder = Path(folder)
    terminology = load_model(folder / "terminology.yaml", Terminology)
    if not terminology.references():
        return terminology
    from sdtmgen.ct_reference import resolve_terminology

    if ct_version is None:
        ct_version = str(load_model(folder / "study.yaml", StudySpec, key="study").standards.ct)
    resolved = resolve_terminology(terminology, folder, ct_version, lambda loc: spec_location(terminology, loc))
    attach_source(resolved, *source_of(terminology))
    return resolved


def load_spec(folder: str | Path) -> Spec:
    folder = Path(folder)
    if not folder.is_dir():
        raise SpecError(f"{folder}: spec folder not found")
    domain_files = sorted((folder / "sdtm").glob("*.yaml"))
    adam_files = sorted((folder / "adam").glob("*.yaml"))
    confine_spec_files(folder, [folder / "study.yaml", folder / "terminology.yaml", *domain_files, *adam_files])
    study = load_model(folder / "study.yaml", StudySpec, key="study")
    terminology = load_terminology(folder, str(study.standards.ct))
    if not domain_files:
        raise SpecError(f"{folder / 'sdtm'}: no domain specs (*.yaml) found")
    domains = [load_model(path, DomainSpec) for path in domain_files]
    adam = [load_model(path, AdamDatasetSpec) for path in adam_files]
    report = load_report_config(folder)
    spec = Spec(study=study, terminology=terminology, domains=domains, folder=str(folder), adam=adam, report=report)
    check_references(spec)
    from sdtmgen.standards.study import check_standards

    check_standards(spec)
    return spec


def load_report_config(spec_folder: str | Path) -> ReportConfig | None:
    """``<spec>/report.yaml`` or None when the study has no report configuration."""
    path = Path(spec_folder) / REPORT_FILE
    if not path.is_file():
        return None
    confine_spec_files(Path(spec_folder), [path])
    return load_model(path, ReportConfig, key="report")


def confine_spec_files(folder: Path, files: list[Path]) -> None:
    """Spec files are read only from inside the spec folder: a file (or the sdtm/, adam/ folder) that is a
    symbolic link leading out of it is refused, naming the link, before anything is read."""
    from sdtmgen.spec.paths import resolve_spec_path

    for path in files:
        if path.exists() or path.is_symlink():
            resolve_spec_path(folder, os.path.relpath(path, folder), None, "spec file",
                              where=f"{path}: spec file")


def check_references(spec: Spec, files: dict[str, Path] | None = None) -> None:
    """Names that must point at something: codelists, domains, variables, elements."""
    problems: list[str] = []
    names = [d.domain for d in spec.domains]
    for d in spec.domains:
        if names.count(d.domain) > 1:
            problems.append(f"{_where(d, ('domain',))}: domain {d.domain} is specified twice")
    codelists = spec.terminology.ids()
    variables = {d.domain: {v.name for v in d.variables} for d in spec.domains}
    etcds = {e.etcd for e in spec.study.elements}
    for domain in spec.domains:
        for j, var in enumerate(domain.variables):
            if var.codelist and var.codelist not in codelists:
                problems.append(f"{_where(domain, ('variables', j, 'codelist'))}: {var.name} uses unknown codelist {var.codelist}")
        for k, supp in enumerate(domain.supplemental):
            if supp.codelist and supp.codelist not in codelists:
                problems.append(f"{_where(domain, ('supplemental', k, 'codelist'))}: SUPP QNAM {supp.qnam} uses unknown codelist {supp.codelist}")
        for i, source in enumerate(domain.sources):
            for target, rule in source.map.items():
                for step in getattr(rule, "then", None) or []:
                    if step.codelist is not None and step.codelist not in codelists:
                        problems.append(f"{_where(domain, ('sources', i, 'map', target))}: {target}: "
                                        f"'then' step uses unknown codelist {step.codelist}")
                codelist_id = getattr(rule, "codelist_id", None)  # rules that map through a codelist
                if codelist_id is None:
                    continue
                var_cl = domain.variable(target).codelist if target in variables[domain.domain] else None
                cl_id = codelist_id(var_cl)
                where = _where(domain, ("sources", i, "map", target))
                if cl_id is None:
                    problems.append(f"{where}: {target}: codelist rule needs a codelist")
                elif cl_id not in codelists:
                    problems.append(f"{where}: {target}: unknown codelist {cl_id}")
        for k, step in enumerate(domain.derivations):
            where = _where(domain, ("derivations", k))
            for other, needed in sorted(step.needs()):
                if other not in variables:
                    problems.append(f"{where}: derivation {step.derivation_name} needs domain {other}, which has no spec")
                elif needed not in variables[other] and needed != "USUBJID" and not needed.startswith("_"):
                    problems.append(f"{where}: derivation {step.derivation_name} needs {other}.{needed}, "
                                    f"not a variable of {other}")
            for el in getattr(step, "elements", []) or []:
                if getattr(el, "etcd", None) and el.etcd not in etcds:
                    problems.append(f"{where}: element {el.etcd} is not among the study's elements")
    problems += adam_reference_problems(spec, _where)
    problems += _review_problems(spec)
    problems += [f"{_where(spec.study, ('justifications',))}: {p}"
                 for p in justification_problems(spec.study.justifications)]
    if problems:
        raise SpecError("inconsistent spec\n" + "\n".join(f"  {p}" for p in problems))


def justification_problems(justifications: dict[str, str]) -> list[str]:
    """Justifications naming a rule the build does not know, or saying nothing."""
    import re

    from sdtmgen.guide import HANDLED
    from sdtmgen.validate.report import rule_catalogue

    known = {r["id"] for r in rule_catalogue()} | set(HANDLED)
    problems = []
    for rule_id, text in justifications.items():
        if rule_id not in known and not re.fullmatch(r"CORE-\d{6}", rule_id):
            problems.append(f"justifications: unknown rule {rule_id}; rules: {', '.join(sorted(known))}, "
                            f"or a CDISC CORE rule id CORE-NNNNNN")
        elif not str(text).strip():
            problems.append(f"justifications: rule {rule_id} has an empty explanation")
    return problems


def _review_problems(spec: Spec) -> list[str]:
    """study.yaml's review: section names registered data-review checks only."""
    from sdtmgen.review import catalogue

    known = {c["id"] for c in catalogue()}
    return [f"{_where(spec.study, ('review', check))}: review: unknown data-review check {check} "
            f"(known: {', '.join(sorted(known))})" for check in spec.study.review if check not in known]
