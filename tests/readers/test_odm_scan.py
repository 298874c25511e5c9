"""The ODM reader's compiled fast path reads what lxml reads, cell for cell and line for line, and hands
everything else to lxml."""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from sdtmgen.errors import RawDataError
from sdtmgen.readers import odm as odm_module
from sdtmgen.readers.odm import OdmReader
from sdtmgen.readers.odm_scan import NeedsParser, scan
from sdtmgen.simulate import load_simulation_params, simulate_study

SPECS = Path(__file__).resolve().parents[2] / "specs"
HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" '
        'xmlns:odm="http://www.cdisc.org/ns/odm/v1.3" FileType="Transactional" ODMVersion="1.3.2" FileOID="F">\n'
        '<Study OID="S"><MetaDataVersion OID="V" Name="v">'
        '<StudyEventDef OID="SE.1" Name="Day &amp; night" Repeating="No" Type="Scheduled"/>'
        '<FormDef OID="F.AE" Name="Adverse events" Repeating="Yes"><ItemGroupRef ItemGroupOID="IG.AE" Mandatory="Yes"/>'
        '</FormDef><ItemGroupDef OID="IG.AE" Name="ae" Repeating="Yes"><ItemRef ItemOID="IT.TERM" Mandatory="No"/>'
        '<ItemRef ItemOID="IT.SEV" Mandatory="No"/><ItemRef ItemOID="IT.NEVER" Mandatory="No"/></ItemGroupDef>'
        '<ItemDef OID="IT.TERM" Name="TERM" DataType="text"/>'
        '<ItemDef OID="IT.SEV" Name="SEV" DataType="text"><CodeListRef CodeListOID="CL.SEV"/></ItemDef>'
        '<CodeList OID="CL.SEV" Name="Severity" DataType="text"><CodeListItem CodedValue="1"><Decode>'
        '<TranslatedText>MILD &lt;1&gt;</TranslatedText></Decode></CodeListItem></CodeList>'
        '</MetaDataVersion></Study>\n<ClinicalData StudyOID="S" MetaDataVersionOID="V">\n')
#: XML an EDC system may write: quoting, references, line ends and tabs in values, typed items, prefixes,
#: several attributes per line, audit records, a form under the subject (no event), empty and null items
BODY = ("<SubjectData SubjectKey='01&#45;001'>\n"
        '<StudyEventData StudyEventOID="SE.1"><FormData FormOID="F.AE" FormRepeatKey="7">\n'
        '<ItemGroupData ItemGroupOID="IG.AE"\n   ItemGroupRepeatKey="1">\n'
        '<ItemData Value="Head&#xE9;&amp;ache\tline&#10;two" ItemOID="IT.TERM"/>\n'
        '<odm:ItemData ItemOID="IT.SEV" Value="1" TransactionType="Insert"><AuditRecord><UserRef UserOID="U"/>'
        '<LocationRef LocationOID="L"/><DateTimeStamp>2024-01-01T00:00:00</DateTimeStamp></AuditRecord>'
        '</odm:ItemData>\n'
        '<ItemDataString ItemOID="IT.NOTE">a &lt;b&gt;\r\nc "quoted" \'x\'</ItemDataString>\n'
        '</ItemGroupData>\n'
        '<ItemGroupData ItemGroupOID="IG.AE"><ItemData ItemOID="IT.SEV" IsNull="Yes"/>'
        '<ItemDataString ItemOID="IT.EMPTY"/><ItemData ItemOID="IT.TERM" Value=""/></ItemGroupData>\n'
        '<ItemGroupData ItemGroupOID="IG.AE" ItemGroupRepeatKey=""/>\n'
        '</FormData></StudyEventData>\n'
        '<FormData FormOID="F.AE"><ItemGroupData ItemGroupOID="IG.AE" ItemGroupRepeatKey="9">'
        '<ItemData ItemOID="IT.TERM" Value="Nausea"/></ItemGroupData></FormData>\n'
        '<Signature><UserRef UserOID="U"/></Signature>\n'
        '</SubjectData>\n'
        '<SubjectData SubjectKey="01-002"><StudyEventData StudyEventOID="SE.2"><FormData FormOID="F.AE">'
        '<ItemGroupData ItemGroupOID="IG.AE" ItemGroupRepeatKey="1"><ItemData ItemOID="IT.TERM" Value="Rash"/>'
        '</ItemGroupData></FormData></StudyEventData></SubjectData>\n'
        '</ClinicalData></ODM>\n')


def _write(tmp_path: Path, body: str = BODY, name: str = "export.xml", newline: str = "\n") -> Path:
    path = tmp_path / name
    path.write_bytes((HEAD + body).replace("\n", newline).encode("utf-8"))
    return path


def _both(path: Path, monkeypatch, **options) -> tuple[dict, dict]:
    """Every form as the fast path and as lxml read it (the same reader, lxml forced for the second)."""
    fast = OdmReader(path, **options)
    forms = {f: fast.read(f) for f in fast.forms()}

    def refuse(_path):
        raise NeedsParser("forced")

    with monkeypatch.context() as patch:
        patch.setattr(odm_module, "scan", refuse)
        slow = OdmReader(path, **options)
        reference = {f: slow.read(f) for f in slow.forms()}
    assert fast.item_count == slow.item_count
    assert [(n.rule, n.message) for n in fast.notes] == [(n.rule, n.message) for n in slow.notes]
    return forms, reference


def _same(forms: dict, reference: dict) -> None:
    assert forms.keys() == reference.keys()
    for name, form in forms.items():
        assert list(form.frame.columns) == list(reference[name].frame.columns), name
        assert form.frame.equals(reference[name].frame), name
        assert form.lines.tolist() == reference[name].lines.tolist(), name
        assert [(n.rule, n.sources) for n in form.notes] == [(n.rule, n.sources) for n in reference[name].notes]


@pytest.mark.parametrize("chunk", [64, 200, 1 << 25])
def test_what_edc_systems_write_is_read_by_the_fast_path_as_lxml_reads_it(tmp_path, monkeypatch, chunk):
    path = _write(tmp_path)
    scan(path, chunk=chunk)  # no NeedsParser: the fast path reads all of it, cut anywhere
    monkeypatch.setattr(odm_module, "scan", lambda p: scan(p, chunk=chunk))
    for options in ({}, {"items": "name", "forms": "name", "decode": True}):
        forms, reference = _both(path, monkeypatch, **options)
        _same(forms, reference)
    frame = forms["adverse_events"].frame
    assert frame.columns.tolist() == ["SUBJECT", "VISIT", "RECORDPOSITION", "TERM", "SEV", "IT.NEVER", "IT.NOTE",
                                      "IT.EMPTY"]
    assert frame["SUBJECT"].tolist() == ["01-001"] * 4 + ["01-002"]
    assert frame["VISIT"].tolist() == ["Day & night"] * 3 + ["", "SE.2"]
    assert frame["RECORDPOSITION"].tolist() == ["1", "7", "7", "9", "1"]
    assert frame["TERM"].tolist() == ["Headé&ache line two", "", "", "Nausea", "Rash"]  # tab -> space, &#10; -> line
    assert frame["SEV"].tolist() == ["MILD <1>", "", "", "", ""]
    assert frame["IT.NOTE"].tolist() == ["a <b> c \"quoted\" 'x'", "", "", "", ""]
    assert forms["adverse_events"].lines.tolist() == [8, 14, 15, 17, 20]  # the line of each start tag's '>'


def test_crlf_files_and_the_generated_example(tmp_path, monkeypatch):
    _same(*_both(_write(tmp_path, newline="\r\n"), monkeypatch))
    params = load_simulation_params(SPECS / "simulation.yaml")
    simulate_study(params, n_subjects=5, seed=3, out_dir=tmp_path / "odm", fmt="odm")
    monkeypatch.setattr(odm_module, "scan", lambda p: scan(p, chunk=4096))
    _same(*_both(tmp_path / "odm" / "export.xml", monkeypatch))


def test_columns_moved_to_larger_buffers_as_they_fill_keep_every_cell(tmp_path, monkeypatch):
    """Each column's cells are written straight into its final buffers, enlarged when full: started at one
    byte here, every column is enlarged many times, mid-chunk and across chunk cuts, offsets and values."""
    from sdtmgen.readers import odm_scan

    params = load_simulation_params(SPECS / "simulation.yaml")
    simulate_study(params, n_subjects=8, seed=5, out_dir=tmp_path / "odm", fmt="odm")
    path = tmp_path / "odm" / "export.xml"
    monkeypatch.setattr(odm_scan._Columns, "START", 1)
    grown = []
    grow = odm_scan._Columns.grow
    monkeypatch.setattr(odm_scan._Columns, "grow", lambda self, *a: grown.append(a) or grow(self, *a))
    monkeypatch.setattr(odm_module, "scan", lambda p: scan(p, chunk=1000))
    _same(*_both(path, monkeypatch))
    assert len(grown) > 100


@pytest.mark.parametrize("project", ["odm/odmlib-odm-data-snapshot.xml", "redcap/repeating-instruments/project.xml"])
def test_reference_exports_take_the_fast_path(reference, monkeypatch, project):
    path = reference / "edc-exports" / project
    scan(path, chunk=512)
    monkeypatch.setattr(odm_module, "scan", lambda p: scan(p, chunk=512))
    _same(*_both(path, monkeypatch, forms="name"))


@pytest.mark.parametrize("change", [
    ("<SubjectData SubjectKey='01&#45;001'>", "<!-- a comment --><SubjectData SubjectKey='01&#45;001'>"),
    ('"IT.NOTE">a', '"IT.NOTE"><![CDATA[<raw>]]>a'),
    ('ItemOID="IT.SEV" Value="1"', 'ItemOID="IT.SEV" Value="1" Value="2"'),
    ("</ItemGroupData>\n<ItemGroupData", "</ItemGroupdata>\n<ItemGroupData"),
    ('<ItemData ItemOID="IT.TERM" Value="Rash"/>', '<ItemData ItemOID="IT.TERM" Value="Ra&sh;"/>'),
    ('<ItemData ItemOID="IT.TERM" Value="Rash"/>', '<ItemData ItemOID="IT.TERM"/>'),
    ('<ItemData ItemOID="IT.TERM" Value="Rash"/>', '<ItemData ItemOID="IT.TERM" Value="Ra\x01sh"/>'),
    ("<SubjectData SubjectKey=\"01-002\">", "<SubjectData>"),
    ("</ClinicalData></ODM>\n", "</ClinicalData>\n"),
    ("</ClinicalData></ODM>\n", "</ClinicalData></ODM>\ntext\n"),
    ('<ItemData ItemOID="IT.TERM" Value="Rash"/>', '<ItemData ItemOID="IT.TERM" Value="Ra&#0;sh"/>'),
    ('<ItemData ItemOID="IT.TERM" Value="Rash"/>', '<ItemData ItemOID="IT.TERM" Value="Ra&#xD800;sh"/>'),
    ('<ItemData ItemOID="IT.TERM" Value="Rash"/>', '<ItemData ItemOID="IT.TERM" Value="Ra&#99999999999999999999;sh"/>'),
    ("<SubjectData SubjectKey=\"01-002\">", "<SubjectData SubjectKey=\"01&#xFFFE;002\">"),
])
def test_anything_else_goes_to_lxml_which_reads_it_or_names_the_line(tmp_path, monkeypatch, change):
    assert change[0] in BODY
    path = _write(tmp_path, BODY.replace(*change))
    with pytest.raises(NeedsParser):
        scan(path)
    try:
        forms, reference = _both(path, monkeypatch)
    except RawDataError as error:  # lxml's message, whichever path was tried first
        assert "export.xml" in str(error) and "line" in str(error)
    else:
        _same(forms, reference)


def test_an_item_given_twice_is_named_by_lxml(tmp_path):
    twice = '<ItemData ItemOID="IT.TERM" Value="Rash"/>'
    path = _write(tmp_path, BODY.replace(twice, twice + '\n<ItemData ItemOID="IT.TERM" Value="Itch"/>'))
    with pytest.raises(NeedsParser):  # well-formed, but the scan's columns refuse it and lxml names it
        scan(path)
    with pytest.raises(RawDataError, match=r"export.xml line 21: item IT.TERM given twice .*subject 01-002"):
        OdmReader(path).forms()


def test_the_loop_is_compiled_without_a_writable_cache_folder(monkeypatch):
    from numba.core import caching

    from sdtmgen.readers.odm_kernel import _compiled

    def add(a, b):
        return a + b

    monkeypatch.setattr(caching.CacheImpl, "_locator_classes", [])  # no folder numba may write its cache to
    with pytest.raises(RuntimeError, match="no locator"):  # what numba does with cache=True there
        __import__("numba").njit(cache=True)(add)
    assert _compiled(add)(2, 3) == 5


def test_a_control_character_xml_allows_stops_the_build_on_both_paths(tmp_path, monkeypatch):
    """DEL is well-formed XML but no dataset can carry it: the fast path, which checks only the edges of
    columns it saw no tab, line end or reference in, still looks at every column of a file holding it."""
    assert 'ItemOID="IT.SEV" Value="1"' in BODY
    path = _write(tmp_path, BODY.replace('ItemOID="IT.SEV" Value="1"', 'ItemOID="IT.SEV" Value="1\x7f"'))
    scan(path)
    for refuse in (False, True):
        with monkeypatch.context() as patch:
            if refuse:
                patch.setattr(odm_module, "scan", lambda _p: (_ for _ in ()).throw(NeedsParser("forced")))
            with pytest.raises(RawDataError, match=r"control character.*\n.*line 8, column IT.SEV"):
                OdmReader(path).read("f_ae")


@pytest.mark.parametrize("chunk", [97, 1 << 25])
def test_references_and_line_ends_are_normalised_by_the_loop_as_lxml_does(tmp_path, monkeypatch, chunk):
    """Values the loop normalises itself: references to characters of 1 to 4 UTF-8 bytes, in decimal and hex,
    tabs and line ends in attributes (a space) and in typed text (kept, CR LF and CR made LF), in the items
    and in the keys; a column with a tab or line end in one value gets the whitespace note on both paths."""
    body = (BODY.replace('Value="Rash"', 'Value="&#65;&#x4E2D;&#x1F600;&quot;&apos;&gt;\r\n&#13;&#9;x"')
            .replace('ItemGroupRepeatKey="9"', 'ItemGroupRepeatKey="9&#x20AC;\t"')
            .replace('"IT.NOTE">a', '"IT.NOTE">\tone\ntwo\r\nthree&#13;four&#x10FFFF;'))
    path = _write(tmp_path, body)
    scan(path, chunk=chunk)
    monkeypatch.setattr(odm_module, "scan", lambda p: scan(p, chunk=chunk))
    forms, reference = _both(path, monkeypatch)
    _same(forms, reference)
    frame = forms["f_ae"].frame
    assert frame["IT.TERM"].tolist()[-1] == "A\u4e2d\U0001f600\"'> x"
    assert frame["IT.NOTE"].tolist()[0].startswith("one two three four\U0010ffff <b> c")
    assert frame["RECORDPOSITION"].tolist()[3] == "9\u20ac"
    assert any(n.rule == "RAW-WHITESPACE" for n in forms["f_ae"].notes)


def test_an_edge_space_in_a_column_without_other_whitespace_is_trimmed_and_reported(tmp_path, monkeypatch):
    path = _write(tmp_path, BODY.replace('ItemOID="IT.SEV" Value="1"', 'ItemOID="IT.SEV" Value="1 "')
                  .replace('Value="Nausea"', 'Value=" Nausea"').replace('ItemGroupRepeatKey="9"', 'ItemGroupRepeatKey=" 9"')
                  .replace('SubjectKey="01-002"', 'SubjectKey="01-002 "'))
    scan(path)
    forms, reference = _both(path, monkeypatch)
    _same(forms, reference)
    form = forms["f_ae"]
    assert form.frame["IT.SEV"].tolist()[0] == "1" and form.frame["IT.TERM"].tolist()[3] == "Nausea"
    assert form.frame["RECORDPOSITION"].tolist()[3] == "9" and form.frame["SUBJECT"].tolist()[4] == "01-002"
    assert {n.variable for n in form.notes if n.rule == "RAW-WHITESPACE"} == {
        f"export.xml:{c}" for c in ("SUBJECT", "RECORDPOSITION", "IT.SEV", "IT.TERM", "IT.NOTE")}


def test_a_file_that_cannot_be_mapped_is_read_in_pieces_the_same(tmp_path, monkeypatch):
    from sdtmgen.readers import odm_scan

    path = _write(tmp_path)
    mapped = scan(path, chunk=97)

    def refuse(*_args, **_kwargs):
        raise OSError("no mmap here")

    monkeypatch.setattr(odm_scan.mmap, "mmap", refuse)
    read = scan(path, chunk=97)
    assert read.item_count == mapped.item_count == 8
    assert read.line.tolist() == mapped.line.tolist() and read.repeat.equals(mapped.repeat)
    assert [c.to_pylist() for c in read.cells] == [c.to_pylist() for c in mapped.cells]


def test_the_shortest_item_path_refuses_a_quote_an_expected_name_holds(tmp_path):
    """The shortest path compares an ItemOID with the name it expects instead of scanning it: a name read
    single-quoted may hold a '"', which in a double-quoted ItemOID ends the value there - malformed XML."""
    rows = ('<ItemGroupData ItemGroupOID="IG.AE"><ItemData ItemOID=\'IT."A\' Value="1"/>'
            '<ItemData ItemOID="IT.B" Value="2"/></ItemGroupData>\n')
    twice = ('<SubjectData SubjectKey="01-003"><FormData FormOID="F.Q">' + rows + rows.replace("'IT.\"A'", '"IT."A"')
             + '</FormData></SubjectData>\n')
    good = _write(tmp_path, BODY.replace("</ClinicalData>", twice.replace('"IT."A"', "'IT.\"A'") + "</ClinicalData>"),
                  name="good.xml")
    assert scan(good).item_count == 8 + 4  # read by the loop, the second group along the shortest path
    bad = _write(tmp_path, BODY.replace("</ClinicalData>", twice + "</ClinicalData>"), name="bad.xml")
    with pytest.raises(NeedsParser):
        scan(bad)
    with pytest.raises(RawDataError, match=r"bad.xml line 2\d"):
        OdmReader(bad).forms()


@pytest.mark.parametrize("where", ["value", "other item", "group", "text", "element", "end tag", "subject"])
def test_a_byte_that_is_not_utf8_is_found_on_every_path_of_the_loop(tmp_path, where):
    """The loop notes where it meets a byte above 127 (on each of its paths) and only such chunks are
    checked to be UTF-8: a stray Latin-1 byte anywhere sends the file to lxml, which names its line."""
    rows = ''.join(f'<ItemGroupData ItemGroupOID="IG.Q"><ItemData ItemOID="IT.A" Value="{v}"/>'
                   f'<ItemData ItemOID="IT.B" Value="x"/></ItemGroupData>\n' for v in range(3))
    body = BODY.replace("</ClinicalData>", '<SubjectData SubjectKey="01-009"><FormData FormOID="F.Q">\n' + rows
                        + "</FormData></SubjectData>\n</ClinicalData>")
    good = _write(tmp_path, body, name="good.xml")
    assert len(scan(good).names) > 0
    bad = {"value": ('Value="2"/>', 'Value="2\xe9"/>'),  # the shortest path
           "other item": ('ItemOID="IT.B" Value="x"/></ItemGroupData>\n</FormData>',
                          'ItemOID="IT.C" Value="x\xe9"/></ItemGroupData>\n</FormData>'),
           "group": ('<ItemGroupData ItemGroupOID="IG.Q"><ItemData ItemOID="IT.A" Value="2"',
                     '<ItemGroupData ItemGroupOID="IG.\xe9"><ItemData ItemOID="IT.A" Value="2"'),
           "text": ('</FormData></SubjectData>\n</ClinicalData>', '</FormData></SubjectData>\n\xe9</ClinicalData>'),
           "element": ('<FormData FormOID="F.Q">', '<FormData FormOID="F.Q"><X\xe9/>'),
           "end tag": ('<FormData FormOID="F.Q">', '<FormData FormOID="F.Q"><X\xe9></X\xe9>'),
           "subject": ('SubjectKey="01-009"', 'SubjectKey="01-00\xe9"')}[where]
    assert body.count(bad[0]) == 1
    path = tmp_path / "bad.xml"
    path.write_bytes((HEAD + body.replace(bad[0], bad[1])).encode("utf-8").replace("\xe9".encode(), b"\xe9"))
    with pytest.raises(NeedsParser):
        scan(path)
    with pytest.raises(RawDataError, match=r"bad.xml"):
        OdmReader(path).forms()


@pytest.mark.parametrize("values", [["01-001", "", "01-002", "é"], ["", ""], ["a", None, "b"]])
def test_the_compiled_take_of_the_subject_visit_and_position_columns_is_arrows(values):
    from sdtmgen.readers.odm_scan import take

    strings = pa.array(["x"] + values, type=pa.large_string()).slice(1)  # an array that starts at an offset
    index = np.array([len(values) - 1, 0, 0, 1, len(values) - 1], dtype=np.int64)
    assert take(strings, index).equals(strings.take(pa.array(index)))
    assert take(strings, index[:0]).equals(strings.take(pa.array(index[:0])))


@pytest.mark.parametrize("term, key", [("&#160;Rash", "01-002"), ("Rash", "01-002&#8203;"), ("\u00a0Rash", "01-002"),
                                       ("Rash", "01-002\u200b")])
def test_invisible_edges_are_looked_for_unless_a_column_can_only_hold_ascii(tmp_path, monkeypatch, term, key):
    """In a file without a byte above 127 a column without references holds ASCII only and its edges are not
    searched for invisible characters (as for an ASCII CSV file); one written as a reference, or in a UTF-8
    file, is still found, trimmed and reported, as lxml's path does."""
    body = (f'<SubjectData SubjectKey="{key}"><StudyEventData StudyEventOID="SE.1"><FormData FormOID="F.AE">'
            f'<ItemGroupData ItemGroupOID="IG.AE"><ItemData ItemOID="IT.TERM" Value="{term}"/>'
            '<ItemData ItemOID="IT.SEV" Value="1"/></ItemGroupData></FormData></StudyEventData></SubjectData>\n'
            '</ClinicalData></ODM>\n')
    path = _write(tmp_path, body)
    forms, reference = _both(path, monkeypatch)
    _same(forms, reference)
    form = forms["f_ae"]
    assert form.frame["IT.TERM"].tolist() == ["Rash"] and form.frame["SUBJECT"].tolist() == ["01-002"]
    assert {n.variable for n in form.notes if n.rule == "RAW-WHITESPACE"} == {
        "export.xml:" + ("IT.TERM" if term != "Rash" else "SUBJECT")}
