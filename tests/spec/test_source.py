"""Source locations travel with the loaded models, not in a table beside them."""

from pathlib import Path

from sdtmgen.spec.loader import load_spec
from sdtmgen.spec.source import source_of, spec_location

SPECS = Path(__file__).resolve().parents[2] / "specs"


def test_a_loaded_model_names_its_file_and_line_and_a_copy_made_in_code_does_not():
    spec = load_spec(SPECS)
    dm = next(d for d in spec.domains if d.domain == "DM")
    path, node = source_of(dm)
    assert path is not None and Path(path).name.lower().startswith("dm") and node is not None
    where = spec_location(dm, ("variables", 0))
    file, line = where.rsplit(":", 1)
    assert file == str(path) and int(line) > 1
    # the line named is the one holding the first variable
    assert f"name: {dm.variables[0].name}," in Path(path).read_text().splitlines()[int(line) - 1]
    assert spec_location(spec.terminology, ("codelists",)).split(":")[0].endswith("terminology.yaml")
    rebuilt = type(dm).model_validate(dm.model_dump())
    assert rebuilt == dm and source_of(rebuilt) == (None, None) and spec_location(rebuilt, ("domain",)) == "spec"
    assert "_spec_source" not in dm.model_dump() and "_spec_source" not in dm.model_dump_json()
