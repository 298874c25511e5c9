"""Same parameters, subject count and seed give byte-identical files; another seed does not."""

from __future__ import annotations

from sdtmgen.simulate import FORM_COLUMNS, simulate_study


def _bytes(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.csv"))}


def test_two_runs_are_byte_identical(params, tmp_path):
    a = simulate_study(params, n_subjects=9, seed=123, out_dir=tmp_path / "a")
    b = simulate_study(params, n_subjects=9, seed=123, out_dir=tmp_path / "b")
    assert a == b
    first, second = _bytes(tmp_path / "a"), _bytes(tmp_path / "b")
    assert set(first) == {f"{name}.csv" for name in FORM_COLUMNS}
    assert first == second


def test_dict_params_give_the_same_files(params, tmp_path):
    simulate_study(params, n_subjects=5, seed=9, out_dir=tmp_path / "model")
    simulate_study(params.model_dump(), n_subjects=5, seed=9, out_dir=tmp_path / "dict")
    assert _bytes(tmp_path / "model") == _bytes(tmp_path / "dict")


def test_another_seed_gives_other_data(params, tmp_path):
    simulate_study(params, n_subjects=9, seed=1, out_dir=tmp_path / "a")
    simulate_study(params, n_subjects=9, seed=2, out_dir=tmp_path / "b")
    assert _bytes(tmp_path / "a")["hem.csv"] != _bytes(tmp_path / "b")["hem.csv"]


def test_counts_match_files(study9):
    folder, counts, forms = study9
    assert counts == {name: len(frame) for name, frame in forms.items()}
    text = (folder / "hem.csv").read_bytes()
    assert b"\r\n" not in text and text.endswith(b"\n")
