"""The generated spec reference is current, complete and picks up new registrations; the JSON Schemas of every
spec file kind accept the example study's files (checked with jsonschema, not with the models that made them)."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from sdtmgen.cli import main
from sdtmgen.registry import Entry
from sdtmgen.spec.reference import CHECKS, COMMAND, SPEC_FILES, families, reference, schema

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"

DOC = ROOT / "docs" / "spec-reference.md"

FILES = {"study": ["study.yaml"], "terminology": ["terminology.yaml"], "report": ["report.yaml"],
         "simulation": ["simulation.yaml"],
         "domain": sorted(p.relative_to(SPECS).as_posix() for p in (SPECS / "sdtm").glob("*.yaml")),
         "adam": sorted(p.relative_to(SPECS).as_posix() for p in (SPECS / "adam").glob("*.yaml"))}


def test_committed_reference_is_current():
    assert DOC.read_text(encoding="utf-8") == reference(), \
        f"docs/spec-reference.md is not current: run `{COMMAND}` and commit it"


def test_cli_prints_the_reference():
    result = CliRunner().invoke(main, ["schema", "--reference"])
    assert result.exit_code == 0, result.output
    assert result.output == reference()


def test_reference_names_every_entry_with_its_parameters_and_example():
    text = reference()
    for registry in families():
        assert f"## {registry.title}\n" in text
        for entry in registry.entries():
            assert f"`{entry.name}`" in text, f"{registry.kind} {entry.name} missing from the reference"
            assert entry.example in text
    # parameters with types, defaults and required, e.g. study_day's reference and iso8601's formats
    assert "| `reference` | {VariableRef} | default: `{domain: DM, variable: RFSTDTC}` |" in text
    assert "| `formats` | list of text | default: `[DD MON YYYY]` |" in text
    assert "| `date` | text | required |" in text
    for spec_file in SPEC_FILES.values():
        assert f"`{spec_file.path}`" in text


def test_a_new_registration_appears_without_editing_the_reference(monkeypatch):
    """A reader (or rule) registered by a later module is documented from the registry alone."""
    from pydantic import BaseModel

    from sdtmgen.readers import READERS

    class Options(BaseModel):
        encoding: str = "latin-1"

    entry = Entry("sas", "some.module:SasReader", "SAS datasets", Options, "raw: {format: sas, path: ../sas}")
    monkeypatch.setitem(READERS._entries, "sas", entry)
    text = reference()
    assert "### `sas`\n\nSAS datasets.\n" in text
    assert "| `encoding` | text | default: `latin-1` |" in text
    assert "Example: `raw: {format: sas, path: ../sas}`" in text


def _walk(pending: list[tuple[str, type, str]]) -> list[str]:
    """Every field without a description of the models in ``pending`` (where, model, key naming the registry
    entry itself) and of the parameter blocks nested in them, recursively, as ``"<where> [{Block}]: key"``. A
    registry entry or a condition used as a type is not entered: it is checked as an entry of its own."""
    from typing import get_args

    from pydantic import BaseModel

    from sdtmgen.conditions import Condition

    entries = {entry.item for registry in families() for entry in registry.entries() if entry.params is entry.item}

    def blocks(annotation) -> list[type[BaseModel]]:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return [] if annotation in entries or annotation is Condition else [annotation]
        return [block for arg in get_args(annotation) for block in blocks(arg)]

    found: list[str] = []
    seen: set[type] = set()
    while pending:
        where, model, own_key = pending.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            key = field.alias or name
            if own_key and key == own_key:  # rule:, derive: ... name the entry itself
                continue
            pending += [(f"{where} {{{b.__name__}}}", b, "") for b in blocks(field.annotation)]
            if not (field.description or "").strip():
                found.append(f"{where}: {key}")
    return sorted(found)


def _undescribed(registries) -> list[str]:
    """Every parameter of the registries' entries without a description, as ``"<kind> <entry> [{Block}]: key"``:
    the entries' fields and those of the parameter blocks nested in them, recursively (a registry entry or a
    condition used as a type is checked as an entry of its own; a condition operator's operand block too)."""
    from typing import get_args

    from pydantic import BaseModel

    from sdtmgen.conditions import Condition

    def blocks(annotation) -> list[type[BaseModel]]:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return [annotation]
        return [block for arg in get_args(annotation) for block in blocks(arg)]

    pending: list[tuple[str, type, str]] = []
    for registry in registries:
        for entry in registry.entries():
            if registry.kind == "condition operator":
                pending += [(f"condition {entry.name} {{{b.__name__}}}", b, "")
                            for b in blocks(Condition.model_fields[entry.item].annotation) if b is not Condition]
            elif entry.params is not None:
                pending.append((f"{registry.kind} {entry.name}", entry.params, registry.key or ""))
    return _walk(pending)


def _undescribed_keys(spec_files) -> list[str]:
    """Every key of the spec files (``SPEC_FILES``: study.yaml, terminology.yaml, the domain and ADaM files,
    report.yaml, simulation.yaml) without a description, nested blocks included, as ``"<kind> [{Block}]: key"``."""
    return _walk([(kind, spec_file.model(), "") for kind, spec_file in spec_files.items()])


def test_every_registered_parameter_has_a_description():
    """Mapping rules, conditions, readers, SDTM and ADaM derivations: each parameter (and each key of their
    parameter blocks) says what it is in the reference, through its Field(description=...)."""
    missing = _undescribed([registry for registry in families() if registry.kind not in CHECKS])
    assert not missing, "parameters without Field(description=...): " + "; ".join(missing)


def test_a_parameter_without_description_is_found(monkeypatch):
    from pydantic import BaseModel, Field

    from sdtmgen.readers import READERS

    class Block(BaseModel):
        size: int = Field(1, description="described")
        unit: str = "mm"

    class Options(BaseModel):
        block: Block = Field(Block(), description="a block of keys")
        encoding: str = "latin-1"

    monkeypatch.setitem(READERS._entries, "sas", Entry("sas", "some.module:SasReader", "SAS datasets", Options, ""))
    assert _undescribed([READERS]) == ["raw reader sas {Block}: unit", "raw reader sas: encoding"]


def test_every_spec_file_key_has_a_description():
    """Each key of every kind of spec file, and of the blocks nested in them, says what it is in the reference and
    the JSON Schemas (``sdtmgen schema --kind ...``), through its Field(description=...)."""
    missing = _undescribed_keys(SPEC_FILES)
    assert not missing, "spec file keys without Field(description=...): " + "; ".join(missing)


def test_a_spec_file_key_without_description_is_found():
    from typing import Optional

    from pydantic import BaseModel, Field

    from sdtmgen.conditions import Condition
    from sdtmgen.spec.reference import SpecFile

    class Window(BaseModel):
        first: int = Field(1, description="described")
        last: int = 9

    class Arm(BaseModel):
        code: str
        windows: dict[str, Window] = Field(default_factory=dict, description="windows by name")

    class Study(BaseModel):
        arms: list[Arm] = Field(description="the arms")
        window: Optional[Window] = Field(None, description="one more window")
        where: Optional[Condition] = Field(None, description="a condition: its operands are checked as conditions")
        dataset_class: str = Field(alias="class")

    files = {"study": SpecFile("study", "specs/study.yaml", lambda: Study, "the study", key="study")}
    assert _undescribed_keys(files) == ["study {Arm}: code", "study {Window}: last", "study: class"]


@pytest.mark.parametrize("kind", sorted(SPEC_FILES))
def test_every_property_of_the_json_schema_has_a_description(kind):
    """What an editor shows while a spec file is typed: every key of the JSON Schema, the registry entries' own
    keys (``rule:``, ``derive:``) and a condition's operators included, has a description."""
    emitted = schema(kind)
    definitions = {"(root)": emitted, **emitted.get("$defs", {})}
    bare = [f"{name}.{key}" for name, definition in definitions.items()
            for key, value in (definition.get("properties") or {}).items() if not value.get("description")]
    assert not bare, f"{kind}: JSON Schema properties without a description: {', '.join(sorted(bare))}"


def _as_json(value):
    """YAML 1.1 reads an unquoted 2024-03-04 as a date; JSON (and YAML 1.2 editors) see text."""
    if isinstance(value, dict):
        return {k: _as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_json(v) for v in value]
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


@pytest.mark.parametrize("kind", sorted(FILES))
def test_example_specs_validate_against_the_emitted_schema(kind):
    result = CliRunner().invoke(main, ["schema", "--kind", kind])
    assert result.exit_code == 0, result.output
    emitted = json.loads(result.output)
    assert emitted == schema(kind)
    validator = jsonschema.Draft202012Validator(emitted)
    assert FILES[kind]
    for name in FILES[kind]:
        data = _as_json(yaml.safe_load((SPECS / name).read_text(encoding="utf-8")))
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]
        assert not errors, f"{name}: {errors[:5]}"


def test_emitted_schema_rejects_what_the_loader_rejects():
    """The schemas are not vacuous: a misspelled rule, an unknown key and a missing wrapper key all fail."""
    domain = jsonschema.Draft202012Validator(schema("domain"))
    data = yaml.safe_load((SPECS / "sdtm" / "ae.yaml").read_text(encoding="utf-8"))
    data["sources"][0]["map"]["AETERM"] = {"rule": "isodate", "date": "AETERM"}
    assert list(domain.iter_errors(data))
    study = jsonschema.Draft202012Validator(schema("study"))
    body = _as_json(yaml.safe_load((SPECS / "study.yaml").read_text(encoding="utf-8")))
    assert not list(study.iter_errors(body))
    assert list(study.iter_errors(body["study"]))  # the keys belong under study:
    body["study"]["visit"] = body["study"].pop("visits")
    assert list(study.iter_errors(body))


def test_schema_without_kind_is_the_domain_schema_as_before():
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0
    assert result.output == json.dumps(schema("domain"), indent=1, sort_keys=True) + "\n"
