"""Load a spec folder safely and report every problem with its file and line.

Layout::

    specs/study.yaml          study metadata, visits, elements
    specs/terminology.yaml    codelists (NCI C-codes) and external dictionaries
    specs/sdtm/<domain>.yaml  one SDTM domain each
    specs/adam/<dataset>.yaml one ADaM dataset each (optional folder)

YAML is read with the safe loader only; nothing in a spec is executed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from sdtmgen.adam.checks import adam_reference_problems
from sdtmgen.errors import SpecError
from sdtmgen.spec.models import AdamDatasetSpec, DomainSpec, Spec, StudySpec
from sdtmgen.terminology import Terminology


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """Follow a pydantic error location through the YAML node tree to a line number."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == part), None)
            if match is None:
                key = next((k for k, v in node.value if k.value == part), None)
                if key is None:
                    continue  # a union tag in the location, not a key
                node = key
            else:
                node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            continue
        line = node.start_mark.line + 1
    return line


def _read(path: Path) -> tuple[Any, yaml.Node | None]:
    try:
        text = path.read_text(encoding="utf-8")
        # only the safe loaders (plain data, no tags that build objects); libyaml's is ~10x faster,
        # with the same nodes and line marks
        safe_loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return yaml.load(text, Loader=safe_loader), yaml.compose(text, Loader=safe_loader)
    except FileNotFoundError:
        raise SpecError(f"{path}: spec file not found") from None
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise SpecError(f"{path}{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None


def load_model(path: Path, model: type[BaseModel], key: str | None = None) -> Any:
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
    problems = result.problems() if hasattr(result, "problems") else []
    if problems:
        raise SpecError("invalid spec\n" + "\n".join(
            f"{path}:{_line_of(node, loc) or 1}: {message}" for loc, message in problems))
    NODES[id(result)] = (path, node)
    return result


NODES: dict[int, tuple[Path, yaml.Node | None]] = {}
"""Where each loaded model came from, so later checks can name file and line."""


def _where(model: Any, loc: tuple) -> str:
    path, node = NODES.get(id(model), (None, None))
    return f"{path}:{_line_of(node, loc) or 1}" if path else "spec"


def load_spec(folder: str | Path) -> Spec:
    folder = Path(folder)
    if not folder.is_dir():
        raise SpecError(f"{folder}: spec folder not found")
    study = load_model(folder / "study.yaml", StudySpec, key="study")
    terminology = load_model(folder / "terminology.yaml", Terminology)
    domain_files = sorted((folder / "sdtm").glob("*.yaml"))
    if not domain_files:
        raise SpecError(f"{folder / 'sdtm'}: no domain specs (*.yaml) found")
    domains = [load_model(path, DomainSpec) for path in domain_files]
    adam = [load_model(path, AdamDatasetSpec) for path in sorted((folder / "adam").glob("*.yaml"))]
    spec = Spec(study=study, terminology=terminology, domains=domains, folder=str(folder), adam=adam)
    check_references(spec)
    return spec


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
                if getattr(rule, "codelist_id", None) is None:
                    continue
                var_cl = domain.variable(target).codelist if target in variables[domain.domain] else None
                cl_id = rule.codelist_id(var_cl)
                where = _where(domain, ("sources", i, "map", target))
                if cl_id is None:
                    problems.append(f"{where}: {target}: codelist rule needs a codelist")
                elif cl_id not in codelists:
                    problems.append(f"{where}: {target}: unknown codelist {cl_id}")
        for k, step in enumerate(domain.derivations):
            where = _where(domain, ("derivations", k))
            for other, var in sorted(step.needs()):
                if other not in variables:
                    problems.append(f"{where}: derivation {step.derivation_name} needs domain {other}, which has no spec")
                elif var not in variables[other] and var != "USUBJID" and not var.startswith("_"):
                    problems.append(f"{where}: derivation {step.derivation_name} needs {other}.{var}, not a variable of {other}")
            for el in getattr(step, "elements", []) or []:
                if getattr(el, "etcd", None) and el.etcd not in etcds:
                    problems.append(f"{where}: element {el.etcd} is not among the study's elements")
    problems += adam_reference_problems(spec, _where)
    if problems:
        raise SpecError("inconsistent spec\n" + "\n".join(f"  {p}" for p in problems))
