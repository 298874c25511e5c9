"""The define.xml check's read-ahead: the XPT columns it reads back are read while define.xml is built.

The guess of which columns the check reads (made from the elements of each dataset as it is described)
must be the check's own choice on the example, or the read-ahead gains nothing; when the guess is wrong,
or the read fails, the check reads the file itself and reports what it always reported.
"""

from __future__ import annotations

import sys

import numpy as np

from sdtmgen.define_xml.checks import SWITCH_INTERVAL, ReadAhead, check_define, observe_folder
from sdtmgen.pipeline import build
from sdtmgen.xpt import read_xpt_columns


def test_every_file_the_check_reads_was_read_ahead_with_the_columns_it_needs(tmp_path, monkeypatch,
                                                                             spec_folder, example_raw):
    taken: list[tuple[str, str, bool]] = []
    take = ReadAhead.take

    def spy(self, path, columns):
        frame = take(self, path, columns)
        taken.append((path.parent.name, path.name, frame is not None))
        return frame

    monkeypatch.setattr(ReadAhead, "take", spy)
    summary = build(spec_folder, example_raw, tmp_path / "out")
    assert not [f for f in summary.findings if f.rule.startswith("DEFINE-") and f.severity == "error"]
    packages = {folder for folder, _, _ in taken}
    assert packages == {"sdtm", "adam"}
    missed = [(folder, name) for folder, name, hit in taken if not hit]
    assert missed == []
    for folder in packages:  # every data file with a checked column was asked for
        asked = {name for f, name, _ in taken if f == folder}
        assert {"dm.xpt", "lb.xpt"} <= asked if folder == "sdtm" else {"adsl.xpt", "adlb.xpt"} <= asked


def _dm(package):
    return package / "sdtm" / "dm.xpt"


def test_columns_read_ahead_are_the_files_columns(package):
    path = _dm(package)
    switch = sys.getswitchinterval()
    with ReadAhead(path.parent) as ahead:
        assert sys.getswitchinterval() == min(switch, SWITCH_INTERVAL)
        ahead.start("DM", {"SEX", "AGE", "NOT_IN_THE_FILE"})
        got = ahead.take(path, ["AGE", "SEX"])
        assert ahead.take(path, ["AGE", "SEX"]) is None  # forgotten once taken
    assert sys.getswitchinterval() == switch
    expected, _ = read_xpt_columns(path, columns=["AGE", "SEX"], categorical=True)
    assert list(got.columns) == ["AGE", "SEX"]
    for column in expected.columns:
        assert got[column].cat.categories.equals(expected[column].cat.categories)
        assert np.array_equal(got[column].cat.codes, expected[column].cat.codes)


def test_a_wrong_guess_or_a_failed_read_leaves_the_read_to_the_check(package, sdtm_define, spec, monkeypatch):
    path = _dm(package)
    folder = path.parent
    with ReadAhead(folder) as ahead:
        ahead.start("DM", {"SEX"})
        assert ahead.take(path, ["SEX", "RACE"]) is None  # not every column asked for: not used
        ahead.start("XX", {"SEX"})  # no such file: nothing read
        assert ahead.take(folder / "xx.xpt", ["SEX"]) is None
    plain = check_define(sdtm_define, observe_folder(folder, "xpt"), spec.terminology, folder)

    def fail(path, wanted):
        raise OSError(f"{path}: cannot read")

    monkeypatch.setattr(ReadAhead, "_read", staticmethod(fail))
    with ReadAhead(folder) as ahead:
        ahead.start("DM", {"SEX"})
        assert ahead.take(path, ["SEX"]) is None  # the read failed: the check reads the file itself
        for name in ("DM", "AE"):
            ahead.start(name, {"SEX", "AESEV"})
        assert check_define(sdtm_define, observe_folder(folder, "xpt", ahead), spec.terminology, folder) == plain


def test_the_check_gives_the_same_findings_with_and_without_read_ahead(package, sdtm_define, spec):
    import copy

    from sdtmgen.define_xml.oids import XPATH_NS

    tree = copy.deepcopy(sdtm_define)
    item = tree.xpath("//odm:CodeList[@OID='CL.SEX']/*", namespaces=XPATH_NS)[0]
    item.getparent().remove(item)  # a DM.SEX value no longer in its codelist
    folder = package / "sdtm"
    plain = check_define(tree, observe_folder(folder, "xpt"), spec.terminology, folder)
    with ReadAhead(folder) as ahead:
        for name in ("DM", "AE", "LB"):  # every column: the check takes the ones it reads
            ahead.start(name, read_xpt_columns(folder / f"{name.lower()}.xpt", metadata_only=True)[1].column_names)
        ahead_found = check_define(tree, observe_folder(folder, "xpt", ahead), spec.terminology, folder)
    assert [f.rule for f in plain] == ["DEFINE-CT"]
    assert ahead_found == plain
