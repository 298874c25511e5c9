"""The one registry: every family a spec can name is a Registry with documented, valid entries, and the
steps report problems through one fail/warn signature."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest
import yaml
from pydantic import BaseModel

from sdtmgen.registry import Registry, StepContext, UnknownName


def families() -> dict[str, Registry]:
    from sdtmgen.spec.reference import families as all_families

    return {r.kind: r for r in all_families()}


def test_unknown_name_lists_the_known_ones():
    registry: Registry[int] = Registry("widget")
    registry.add("b", 2, "second")
    registry.add("a", 1, "first")
    with pytest.raises(UnknownName) as caught:
        registry["c"]
    assert str(caught.value) == "unknown widget 'c'; known: a, b"
    assert isinstance(caught.value, KeyError)  # callers catching KeyError keep working
    assert list(registry) == ["b", "a"] and [e.name for e in registry.entries()] == ["a", "b"]


def test_registering_a_name_twice_fails():
    registry: Registry[int] = Registry("widget")
    registry.register("a", "first")(1)
    with pytest.raises(ValueError, match="widget 'a' registered twice"):
        registry.register("a", "again")(2)


def test_decorator_returns_the_item_and_records_its_model():
    registry: Registry[type] = Registry("step", key="derive")

    @registry.register("double", "doubles", example="{derive: double}", unit="none")
    class Double(BaseModel):
        derive: str

    assert registry["double"] is Double
    entry = registry.entry("double")
    assert entry.params is Double and entry.metadata == {"unit": "none"} and entry.example == "{derive: double}"


def test_real_registries_replace_the_old_dictionaries():
    from sdtmgen.adam import ADAM_DERIVATIONS
    from sdtmgen.conditions import CONDITIONS
    from sdtmgen.readers import READERS
    from sdtmgen.review import REVIEW_CHECKS
    from sdtmgen.sdtm.derivations import DERIVATIONS
    from sdtmgen.sdtm.rules import RULES
    from sdtmgen.validate.conformance import RULES as CONFORMANCE

    for registry in (RULES, DERIVATIONS, ADAM_DERIVATIONS, CONDITIONS, READERS, CONFORMANCE, REVIEW_CHECKS):
        assert isinstance(registry, Registry) and len(registry) > 0
    assert RULES["iso8601"].rule_name == "iso8601"
    assert DERIVATIONS["study_day"].derivation_name == "study_day"
    assert ADAM_DERIVATIONS["recovery"].description.startswith("time to recovery")
    assert CONFORMANCE["XD-SUBJ-DM"].severity == "error"
    assert REVIEW_CHECKS.entry(next(iter(REVIEW_CHECKS))).metadata["severity"] in ("error", "warning")
    with pytest.raises(UnknownName, match="unknown mapping rule 'isodate'; known: assign, codelist"):
        RULES["isodate"]


def test_every_entry_is_described_with_an_example_that_the_spec_accepts():
    """The reference's examples are real spec text: each one parses and validates against its model."""
    from sdtmgen.conditions import Condition
    from sdtmgen.spec.models import RawSource

    checked = 0
    for kind, registry in families().items():
        for entry in registry.entries():
            assert entry.description.strip(), f"{kind} {entry.name} has no description"
            assert entry.example and "\n" not in entry.example, f"{kind} {entry.name} has no one-line example"
            if kind in ("dataset schema rule", "conformance rule", "data-review check"):
                continue  # examples are study.yaml settings, generated (checked below)
            data = yaml.safe_load(entry.example)
            if kind == "condition operator":
                Condition.model_validate(data)
                assert entry.name in data
            elif kind == "raw reader":
                source = RawSource.model_validate(data["raw"])
                assert source.format == entry.name
                entry.params.model_validate(source.options)
            else:
                assert data[registry.key] == entry.name
                entry.params.model_validate(data)
            checked += 1
    assert checked >= 60


def test_settings_examples_validate():
    from sdtmgen.spec.models import StudySpec

    for kind in ("dataset schema rule", "conformance rule", "data-review check"):
        for entry in families()[kind].entries():
            data = yaml.safe_load(entry.example)
            section = "data_quality" if kind == "conformance rule" else "review"
            if kind != "data-review check" and "justifications" in data:
                assert list(data["justifications"]) == [entry.name]
                continue
            assert list(data) == [section] and list(data[section]) == [entry.name]
            field = StudySpec.model_fields[section].annotation.__args__[1]
            field.model_validate(data[section][entry.name])


def test_one_fail_warn_signature_in_every_family():
    from sdtmgen.adam.base import AdamContext
    from sdtmgen.sdtm.derivations.base import DeriveContext
    from sdtmgen.sdtm.rules.base import MapContext

    for context in (MapContext, DeriveContext, AdamContext):
        assert issubclass(context, StepContext)
        assert context.fail is StepContext.fail and context.warn is StepContext.warn
        assert "record" in vars(context), f"{context.__name__} says how its findings name records"
    assert list(inspect.signature(StepContext.fail).parameters)[1:5] == ["rule", "variable", "message", "mask"]


def test_map_context_findings_name_the_raw_cells():
    from sdtmgen.sdtm.rules.base import MapContext

    frame = pd.DataFrame({"_ROW": [2, 3, 4], "AGE": ["40", "x", "y"]})
    ctx = MapContext(frame, "dm.csv", "DM", "AGE", study=None, terminology=None, variable=None)
    ctx.fail("number", "AGE", "not a number", np.array([False, True, True]), hint="correct it")
    ctx.warn("NOTE", "AGE", "looked twice", np.array([True, False, False]))
    error, warning = ctx.findings
    assert (error.rule, error.severity, error.sources, error.values, error.hint) == \
        ("number", "error", ("dm.csv:3", "dm.csv:4"), ("x", "y"), "correct it")
    assert error.cells[0] == "dm.csv row 3, column AGE: 'x'"
    assert (warning.rule, warning.severity, warning.sources, warning.values) == ("NOTE", "warning", ("dm.csv:2",), ("40",))


def test_adam_context_fail_names_subjects():
    from sdtmgen.adam.base import AdamContext

    class Spec:
        dataset = "ADSL"

    ctx = AdamContext(Spec(), {"ADSL": pd.DataFrame({"USUBJID": ["S-1", "S-2"]})}, study=None)
    ctx.fail("ADSL-X", "TRTSDT", "no date", np.array([False, True]), hint="give one")
    ctx.warn("ADSL-Y", "TRTSDT", "about the step", values=("a",))
    assert [(f.rule, f.severity, f.values, f.hint) for f in ctx.findings] == \
        [("ADSL-X", "error", ("S-2",), "give one"), ("ADSL-Y", "warning", ("a",), "")]


def test_reader_options_are_checked_against_the_reader(tmp_path):
    from sdtmgen.errors import RawDataError
    from sdtmgen.readers import READERS, open_reader

    assert set(READERS.entry("odm").params.model_fields) == {"items", "forms", "decode", "file"}
    assert set(READERS.entry("redcap").params.model_fields) == {"decode", "columns"}
    with pytest.raises(RawDataError, match=r"raw format odm: bad options \(item: Extra inputs.*known options: "
                                           r"items, forms, decode, file"):
        open_reader(tmp_path, "odm", {"item": "name"})
    with pytest.raises(RawDataError, match="unknown raw format 'nosuch'; known: csv, odm, redcap"):
        open_reader(tmp_path, "nosuch", {})


def test_spec_accepts_only_registered_names():
    from sdtmgen.spec.models import RawSource, Source

    with pytest.raises(ValueError, match="isodate"):
        Source.model_validate({"form": "ae", "map": {"AESTDTC": {"rule": "isodate", "date": "X"}}})
    with pytest.raises(ValueError, match="format"):
        RawSource.model_validate({"format": "nosuch", "path": "x"})
