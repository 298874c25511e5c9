"""The ODM reader: every ItemData of a real ODM export lands in its form's row, and bad files are named."""

from pathlib import Path

import pytest
from lxml import etree

from sdtmgen.errors import RawDataError
from sdtmgen.raw_export import RawExport
from sdtmgen.readers import detect
from sdtmgen.readers.odm import OdmReader

NS = "{http://www.cdisc.org/ns/odm/v1.3}"


def _odm(tmp_path: Path, clinical: str, metadata: str = "", file_type: str = "Snapshot") -> Path:
    path = tmp_path / "export.xml"
    path.write_text(f'<?xml version="1.0" encoding="UTF-8"?>\n<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" '
                    f'FileType="{file_type}" ODMVersion="1.3.2" FileOID="F" CreationDateTime="2024-01-01T00:00:00">\n'
                    f'<Study OID="S"><MetaDataVersion OID="V" Name="v">{metadata}</MetaDataVersion></Study>\n'
                    f'<ClinicalData StudyOID="S" MetaDataVersionOID="V">\n{clinical}\n</ClinicalData></ODM>\n',
                    encoding="utf-8")
    return path


def test_every_item_of_the_reference_snapshot_is_in_its_row(reference):
    path = reference / "edc-exports" / "odm" / "odmlib-odm-data-snapshot.xml"
    assert detect(path) == "odm" and detect(path.parent) == "odm"
    raw = RawExport(path)
    forms = {f: raw.read(f) for f in raw.unread()}
    assert sorted(forms) == ["ae", "cm", "dm", "ds", "ec", "lb", "vs"]
    tree = etree.parse(str(path))
    items = tree.findall(f".//{NS}ItemData")
    assert len(items) == 165  # as the reference's README counts them
    for item in items:
        group = item.getparent()
        form_data = group.getparent()
        frame = forms[form_data.get("FormOID").lower()]
        row = frame[frame["_ROW"] == group.sourceline]
        assert len(row) == 1
        assert row[item.get("ItemOID")].iloc[0] == item.get("Value").strip()
        subject = form_data.getparent().getparent().get("SubjectKey")
        assert row["SUBJECT"].iloc[0] == subject
    # rows = ItemGroupData elements; cells read from items = ItemData elements
    assert sum(len(f) for f in forms.values()) == len(tree.findall(f".//{NS}ItemGroupData"))
    assert raw._reader.item_count == 165
    assert set(forms["ae"]["VISIT"]) <= {"Screening", "Visit 1", "Visit 2", "Visit 3"}
    assert (forms["ae"]["RECORDPOSITION"] != "").all()


def test_names_decoding_and_transactional_audit(tmp_path):
    metadata = ('<StudyEventDef OID="SE.D1" Name="Day 1" Repeating="No" Type="Scheduled"/>'
                '<FormDef OID="F.VITALS" Name="Vital signs" Repeating="No"/>'
                '<ItemDef OID="IT.SEX" Name="SEX" DataType="text"><CodeListRef CodeListOID="CL.SEX"/></ItemDef>'
                '<ItemDef OID="IT.TEMP" Name="TEMP" DataType="float"/>'
                '<CodeList OID="CL.SEX" Name="Sex" DataType="text"><CodeListItem CodedValue="1"><Decode>'
                '<TranslatedText>Male</TranslatedText></Decode></CodeListItem></CodeList>')
    clinical = ('<SubjectData SubjectKey="01-001"><StudyEventData StudyEventOID="SE.D1">'
                '<FormData FormOID="F.VITALS"><ItemGroupData ItemGroupOID="IG" ItemGroupRepeatKey="2">\n'
                '<ItemData ItemOID="IT.SEX" Value="1"/><ItemData ItemOID="IT.TEMP" Value=" 36.4"/>'
                '<AuditRecord><UserRef UserOID="U"/></AuditRecord></ItemGroupData>'
                '</FormData></StudyEventData></SubjectData>')
    path = _odm(tmp_path, clinical, metadata, "Transactional")
    plain = OdmReader(path).read("f_vitals")
    assert list(plain.frame.columns) == ["SUBJECT", "VISIT", "RECORDPOSITION", "IT.SEX", "IT.TEMP"]
    assert plain.frame.iloc[0].tolist() == ["01-001", "Day 1", "2", "1", "36.4"]
    assert plain.notes and plain.notes[0].rule == "RAW-WHITESPACE" and plain.notes[0].sources == ("export.xml:5",)
    named = OdmReader(path, items="name", forms="name", decode=True)
    frame = named.read("vital_signs").frame
    assert frame[["SEX", "TEMP"]].iloc[0].tolist() == ["Male", "36.4"]
    assert [n.rule for n in named.notes] == ["RAW-ODM-IGNORED"] and "Transactional" in named.notes[0].message
    with pytest.raises(RawDataError, match="raw form 'vs' not found in export.xml; its forms: vital_signs"):
        named.read("vs")


def test_bad_files_are_named_with_their_line(tmp_path):
    twice = ('<SubjectData SubjectKey="1"><StudyEventData StudyEventOID="E"><FormData FormOID="DM">\n'
             '<ItemGroupData ItemGroupOID="IG">\n<ItemData ItemOID="A" Value="1"/>\n<ItemData ItemOID="A" Value="2"/>'
             '</ItemGroupData></FormData></StudyEventData></SubjectData>')
    with pytest.raises(RawDataError, match=r"export.xml line 8: item A given twice .*subject 1, form DM"):
        OdmReader(_odm(tmp_path, twice)).read("dm")
    broken = _odm(tmp_path, '<SubjectData SubjectKey="1">\n<FormData FormOID="DM">')
    with pytest.raises(RawDataError, match=r"export.xml line \d+: not well-formed XML"):
        OdmReader(broken).forms()
    clash = twice.replace('"A" Value="2"', '"VISIT" Value="2"')
    with pytest.raises(RawDataError, match="item VISIT is named VISIT, a column the reader provides"):
        OdmReader(_odm(tmp_path, clash)).read("dm")


@pytest.mark.parametrize("project", ["repeating-instruments", "arm-single-longitudinal"])
def test_redcap_odm_export_is_read_with_every_item(reference, project):
    path = reference / "edc-exports" / "redcap" / project / "project.xml"
    assert detect(path) == "odm"
    reader = OdmReader(path, forms="name")
    tree = etree.parse(str(path))
    items = [e for e in tree.iter() if isinstance(e.tag, str) and e.tag.rsplit("}", 1)[-1].startswith("ItemData")]
    forms = {f: reader.read(f).frame for f in reader.forms()}
    assert reader.item_count == len(items) > 30
    filled = sum(int((frame.drop(columns=["SUBJECT", "VISIT", "RECORDPOSITION"]) != "").to_numpy().sum())
                 for frame in forms.values())
    assert filled == sum(1 for e in items if (e.get("Value") or e.text or "").strip())
    visits = set().union(*(set(f["VISIT"]) for f in forms.values()))
    # a classic project's FormData sits under SubjectData: no visit; a longitudinal one names its events
    assert visits == ({""} if project == "repeating-instruments" else {"Intake", "Dischage", "Follow up"})
