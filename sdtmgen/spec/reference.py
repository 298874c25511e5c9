"""The spec's JSON Schemas and its written reference, both generated from the models and the registries.

``sdtmgen schema --kind KIND`` prints the JSON Schema of one kind of spec file (for editors and for
checking spec files with any JSON Schema tool); ``sdtmgen schema --reference`` prints
``docs/spec-reference.md``: every spec file's top-level keys, then every registered mapping rule,
condition, reader, derivation, conformance rule and data-review check with its parameters (type,
required or default, description) and a one-line example. Nothing here is written by hand, so a
rule registered by a new module appears in the reference without more work.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any, Callable, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from sdtmgen.registry import Entry, Registry

COMMAND = "sdtmgen schema --reference > docs/spec-reference.md"
#: families of checks run on every build: a table of id, default severity, meaning and a study.yaml setting
CHECKS = ("dataset schema rule", "conformance rule", "data-review check")


@dataclass(frozen=True)
class SpecFile:
    """One kind of spec file: where it lives and the model that checks it."""

    kind: str
    path: str
    model: Callable[[], type[BaseModel]]
    description: str
    key: str = ""  # the file's one top-level key holding the model's keys (``study:``), if any


def _study() -> type[BaseModel]:
    from sdtmgen.spec.models import StudySpec
    return StudySpec


def _terminology() -> type[BaseModel]:
    from sdtmgen.terminology import Terminology
    return Terminology


def _domain() -> type[BaseModel]:
    from sdtmgen.spec.models import DomainSpec
    return DomainSpec


def _adam() -> type[BaseModel]:
    from sdtmgen.spec.models import AdamDatasetSpec
    return AdamDatasetSpec


def _report() -> type[BaseModel]:
    from sdtmgen.spec.report import ReportConfig
    return ReportConfig


def _simulation() -> type[BaseModel]:
    from sdtmgen.spec.simulation import SimulationParams
    return SimulationParams


SPEC_FILES: dict[str, SpecFile] = {f.kind: f for f in (
    SpecFile("study", "specs/study.yaml", _study, "the study: identifiers, visits, elements, arms, standards, raw "
                                                   "export, per-study severities and review settings", key="study"),
    SpecFile("terminology", "specs/terminology.yaml", _terminology, "codelists (with NCI C-codes and collected "
                                                                    "synonyms) and external dictionaries"),
    SpecFile("domain", "specs/sdtm/<domain>.yaml", _domain, "one SDTM dataset: variables, raw sources with a "
                                                            "mapping rule per variable, derivations"),
    SpecFile("adam", "specs/adam/<dataset>.yaml", _adam, "one ADaM dataset: variables and the derivations that "
                                                         "build it, in order"),
    SpecFile("report", "specs/report.yaml", _report, "the results report: outcome measures, windows, 3+3 rules, "
                                                     "plots", key="report"),
    SpecFile("simulation", "specs/simulation.yaml", _simulation, "parameters of `sdtmgen simulate`"),
)}


def schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of one kind of spec file (aliases as written in the files, e.g. ``class``)."""
    if kind not in SPEC_FILES:
        raise KeyError(f"unknown spec file kind {kind!r}; known: {', '.join(SPEC_FILES)}")
    spec_file = SPEC_FILES[kind]
    model = spec_file.model()
    inner = model.model_json_schema(by_alias=True)
    _describe_registered(inner.get("$defs", {}))
    if not spec_file.key:
        return inner
    defs = inner.pop("$defs", {})
    defs[model.__name__] = inner
    return {"$defs": defs, "additionalProperties": False,
            "properties": {spec_file.key: {"$ref": f"#/$defs/{model.__name__}", "description": spec_file.description}},
            "required": [spec_file.key], "title": spec_file.path, "type": "object"}


#: the keys of a condition that are not operators (the operators are described by their registry entries)
_CONDITION_KEYS = {
    "column": "the column a column operator tests (equals, in, missing, matches, ...); all, any and not take none",
    "ignore_case": "text comparisons (equals, in, the column and variable comparisons, matches) ignore case; "
                   "default: exact",
}


def _describe_registered(defs: dict[str, Any]) -> None:
    """Descriptions the models leave to the registries, added to a JSON Schema's definitions: the key naming a
    registry entry (``rule: codelist``, ``derive: visits``) says what that entry does, and each key of a
    condition says what it tests (an editor shows them as the spec is typed)."""
    from sdtmgen.conditions import CONDITIONS

    named: dict[str, tuple[str, Entry[Any]]] = {}
    for registry in families():
        for entry in registry.entries():
            params = entry.params
            if registry.key and params is not None and params is entry.item:  # the entry is its own model
                named[params.__name__] = (registry.key, entry)
    for name, definition in defs.items():
        properties = definition.get("properties", {})
        if name in named:
            key, entry = named[name]
            if key in properties and not properties[key].get("description"):
                properties[key]["description"] = f"{entry.name}: {entry.description}"
    condition = defs.get("Condition", {}).get("properties", {})
    operators = {entry.name: entry.description for entry in CONDITIONS.entries()}
    for key, value in condition.items():
        text = operators.get(key) or _CONDITION_KEYS.get(key)
        if text and not value.get("description"):
            value["description"] = text


def families() -> list[Registry[Any]]:
    """Every registry a spec can name from, in the order of the reference."""
    import sdtmgen.spec.models  # noqa: F401  (imports every mapping rule and derivation module)
    from sdtmgen.adam.base import ADAM_DERIVATIONS
    from sdtmgen.conditions import CONDITIONS
    from sdtmgen.readers import READERS
    import sdtmgen.review  # noqa: F401  (imports every family of data-review checks)
    import sdtmgen.validate.conformance  # noqa: F401  (imports every conformance rule module)
    from sdtmgen.review.registry import REVIEW_CHECKS
    from sdtmgen.sdtm.derivations.base import DERIVATIONS
    from sdtmgen.sdtm.rules.base import RULES
    from sdtmgen.validate.rule_base import RULES as CONFORMANCE
    from sdtmgen.validate.schema import SCHEMA_RULES

    return [READERS, RULES, CONDITIONS, DERIVATIONS, ADAM_DERIVATIONS, SCHEMA_RULES, CONFORMANCE, REVIEW_CHECKS]


# --------------------------------------------------------------------------- rendering


#: models documented in a section of their own (registry entries, conditions) -> how a type names them
_DOCUMENTED: dict[type, str] = {}


def _documented() -> dict[type, str]:
    if not _DOCUMENTED:
        from sdtmgen.conditions import Condition

        for registry in families():
            for entry in registry.entries():
                item: type = entry.item
                if registry.key and isinstance(item, type) and entry.params is item:
                    _DOCUMENTED[item] = f"{registry.kind} (see {registry.title})"
        _DOCUMENTED[Condition] = "condition (see Conditions)"
    return _DOCUMENTED


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("``", "`").replace("|", "\\|")


def type_text(annotation: Any) -> str:
    """A field's type as a spec writer reads it: text, int, number, bool, list of ..., one of ..."""
    if annotation is None or annotation is type(None):
        return "null"
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is typing.Annotated:
        return type_text(args[0])
    if origin is Literal:
        return " \\| ".join(f"`{_flow(a)}`" for a in args)
    if origin in (Union, types.UnionType):
        kept = [a for a in args if a is not type(None)]
        named = {_documented().get(a) for a in kept}
        if len(kept) > 1 and len(named) == 1 and None not in named:  # a registry's union: any of its entries
            return f"any {named.pop()}"
        return " or ".join(type_text(a) for a in kept)
    if origin in (list, tuple, set, frozenset):
        return f"list of {type_text(args[0])}" if args else "list"
    if origin is dict:
        return f"mapping {type_text(args[0])} -> {type_text(args[1])}" if args else "mapping"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _documented().get(annotation, f"{{{annotation.__name__}}}")
    names = {str: "text", int: "int", float: "number", bool: "bool"}
    if annotation in names:
        return names[annotation]
    name = getattr(annotation, "__name__", None) or str(annotation)
    return {"StrictStr": "text", "StrictInt": "int", "StrictFloat": "number", "date": "date",
            "datetime": "date-time"}.get(name, name)


def _flow(value: Any) -> str:
    text: str = yaml.safe_dump(value, default_flow_style=True, width=10_000, sort_keys=False).strip()
    return text[:-4].strip() if text.endswith("\n...") else text


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        value = field.default_factory()
    else:
        value = field.default
    if value is None or value is PydanticUndefined:
        return "optional"
    if isinstance(value, BaseModel):
        value = value.model_dump(by_alias=True, exclude_defaults=True)
        return "default: its defaults" if not value else f"default: `{_flow(value)}`"
    return f"default: `{_flow(value)}`"


def _nested(annotation: Any) -> list[type[BaseModel]]:
    """Models used inside a field's type (parameter blocks such as ``{Case}``)."""
    found: list[type[BaseModel]] = []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [] if annotation in _documented() else [annotation]
    for arg in get_args(annotation):
        found += _nested(arg)
    return found


def field_table(model: type[BaseModel], skip: tuple[str, ...] = (), blocks: dict[str, type[BaseModel]] | None = None
                ) -> list[str]:
    """Markdown rows, one per field of the model (as written in the spec: aliases), nested models noted."""
    rows = ["| key | type | required / default | description |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        key = field.alias or name
        if key in skip:
            continue
        if blocks is not None:
            for nested in _nested(field.annotation):
                blocks.setdefault(f"{nested.__module__}.{nested.__qualname__}", nested)
        rows.append(f"| `{key}` | {type_text(field.annotation)} | {_default(field)} | {_cell(field.description or '')} |")
    return rows if len(rows) > 2 else ["(no keys)"]


def _blocks_section(blocks: dict[str, type[BaseModel]], seen: set[type], level: int = 4) -> list[str]:
    """Each nested parameter block once (a model already described above is not repeated), with the blocks it
    uses in turn, by name."""
    out: list[str] = []
    pending = sorted((m for m in blocks.values() if m not in seen), key=lambda m: m.__name__)
    while pending:
        model = pending.pop(0)
        seen.add(model)
        more: dict[str, type[BaseModel]] = {}
        doc = " ".join((model.__doc__ or "").split()) if model.__doc__ and "Usage docs" not in model.__doc__ else ""
        out += [f"{'#' * level} `{{{model.__name__}}}`", ""] + ([_cell(doc), ""] if doc else [])
        out += field_table(model, blocks=more) + [""]
        pending += [m for m in more.values() if m not in seen and m not in pending]
        pending.sort(key=lambda m: m.__name__)
    return out


def _entry_section(registry: Registry[Any], entry: Entry[Any], blocks: dict[str, type[BaseModel]]) -> list[str]:
    out = [f"### `{entry.name}`", "", _cell(entry.description[:1].upper() + entry.description[1:]) + ".", ""]
    params = entry.params
    if params is not None:
        out += field_table(params, skip=(registry.key,) if registry.key else (), blocks=blocks) + [""]
    out += [f"Example: `{entry.example}`", ""]
    return out


def _conditions_section(registry: Registry[Any]) -> list[str]:
    from sdtmgen.conditions import Condition

    fields = Condition.model_fields
    out = ["| operator | operand | meaning | example |", "|---|---|---|---|"]
    for entry in registry.entries():
        annotation = fields[entry.item].annotation
        blocks = _nested(annotation)
        operand = ("{" + ", ".join(f"{k}: {type_text(f.annotation)}" for k, f in blocks[0].model_fields.items()) + "}"
                   if blocks else type_text(annotation))
        out.append(f"| `{entry.name}` | {operand} | {_cell(entry.description)} | `{_cell(entry.example)}` |")
    return out + [""]


def _checks_section(registry: Registry[Any]) -> list[str]:
    out = ["| id | default severity | what it finds | example |", "|---|---|---|---|"]
    for entry in registry.entries():
        out.append(f"| `{entry.name}` | {entry.metadata.get('severity', '')} | {_cell(entry.description)} | "
                   f"`{_cell(entry.example)}` |")
    return out + [""]


def reference() -> str:
    """docs/spec-reference.md."""
    lines = [
        "# Spec reference",
        "",
        f"Generated from the spec models and the registries by `{COMMAND}`; do not edit by hand",
        "(a test fails when this file is not current). Keys are as written in the YAML files; `{Name}` is a",
        "block of keys described under its family; `a \\| b` is one of the listed values. JSON Schemas of",
        "each file kind: `sdtmgen schema --kind study|terminology|domain|adam|report|simulation`.",
        "",
        "## Spec files",
        "",
    ]
    seen: set[type] = set()
    for spec_file in SPEC_FILES.values():
        model = spec_file.model()
        under = f" The keys below are under `{spec_file.key}:`." if spec_file.key else ""
        lines += [f"### {spec_file.kind}: `{spec_file.path}`", "",
                  _cell(spec_file.description[:1].upper() + spec_file.description[1:]) + "." + under, ""]
        blocks: dict[str, type[BaseModel]] = {}
        lines += field_table(model, blocks=blocks) + [""]
        if set(blocks.values()) - seen:
            lines += [f"#### Blocks of {spec_file.path}", ""] + _blocks_section(blocks, seen, level=5)
    for registry in families():
        lines += [f"## {registry.title}", "", f"Used in: {registry.where}.", ""]
        if registry.kind == "condition operator":
            lines += _conditions_section(registry)
            continue
        if registry.kind in CHECKS:
            lines += _checks_section(registry)
            continue
        blocks = {}
        for entry in registry.entries():
            lines += _entry_section(registry, entry, blocks)
        if set(blocks.values()) - seen:
            lines += [f"### Parameter blocks of the {registry.title}", ""] + _blocks_section(blocks, seen)
    return "\n".join(lines).rstrip() + "\n"
