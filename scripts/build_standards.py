"""Write the standards data that ship with sdtmgen, from the public source files.

    python scripts/build_standards.py [--reference ../shared/reference] [--out sdtmgen/standards/data]

Reads the published files (NCI CTCAE v5.0 criteria as data, SDTMIG 3.4 / ADaMIG 1.3 variable
metadata, NCI SDTM / ADaM / Define-XML controlled terminology) and writes them in the package's
own layout, ``<out>/<kind>/<version>/``, each folder with a ``PROVENANCE`` file (source file and
its SHA-256, source project, version, date, licence). Only the columns the tool reads are kept
(no definitions or notes), so the package stays small.

The output is deterministic: the same sources give the same bytes (rows in source order, fixed
column order, LF line ends, gzip without a timestamp or file name). ``tests/test_standards.py``
checks that the packaged data equals what this script writes from ``../shared/reference``.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REFERENCE = ROOT.parent / "shared" / "reference"
DEFAULT_OUT = ROOT / "sdtmgen" / "standards" / "data"

NCI_LICENCE = "NCI EVS controlled terminology: public domain (NCI Thesaurus terms of use)"
CDISC_LICENCE = "CDISC standard metadata, used per the CDISC terms of use (cdisc.org)"
ADMIRAL_LICENCE = "Apache-2.0 (pharmaverse/admiral data-raw/adlb_grading)"

#: columns of an NCI CT file -> columns written (submission value, C-codes, synonyms, preferred term)
CT_COLUMNS = {"Code": "code", "Codelist Code": "codelist", "Codelist Extensible (Yes/No)": "extensible",
              "Codelist Name": "codelist_name", "CDISC Submission Value": "value",
              "CDISC Synonym(s)": "synonyms", "NCI Preferred Term": "preferred_term"}
SDTMIG_COLUMNS = {"Dataset Name": "dataset", "Variable Order": "order", "Variable Name": "name",
                  "Variable Label": "label", "Type": "type", "Core": "core", "Role": "role", "Class": "class",
                  "CDISC CT Codelist Code(s)": "codelists"}
ADAMIG_COLUMNS = {"Data Structure Name": "structure", "Variable Set": "variable_set", "Variable Name": "name",
                  "Variable Label": "label", "Type": "type", "Core": "core",
                  "CDISC CT Codelist Code(s)": "codelists"}
CTCAE_FIELDS = ("TERM", "SOC", "DIRECTION", "UNIT_CHECK", "VAR_CHECK", "GRADE_NA_CODE", "GRADE_4_CODE",
                "GRADE_3_CODE", "GRADE_2_CODE", "GRADE_1_CODE", "GRADE_1", "GRADE_2", "GRADE_3", "GRADE_4",
                "GRADE_5", "COMMENT")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def table_text(rows: list[dict[str, str]], columns: list[str]) -> bytes:
    """Tab-separated UTF-8 text, LF line ends, quoted only where a value holds a tab, quote or newline."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row[c] for c in columns])
    return buffer.getvalue().encode("utf-8")


def gzipped(data: bytes) -> bytes:
    """gzip with no timestamp and no file name in the header, so the bytes depend on the data only."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as out:
        out.write(data)
    return buffer.getvalue()


def read_table(data: bytes, columns: dict[str, str], delimiter: str, source: str) -> list[dict[str, str]]:
    text = data.decode("utf-8-sig")
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    missing = [c for c in columns if c not in (reader.fieldnames or [])]
    if missing:
        raise SystemExit(f"{source}: expected columns {missing} (found {reader.fieldnames})")
    return [{new: (row[old] or "").strip() for old, new in columns.items()} for row in reader]


def provenance(**fields: str) -> bytes:
    order = ("kind", "version", "files", "source", "source_sha256", "source_project", "published", "licence", "notes")
    lines = [f"{key}: {fields[key]}" for key in order if fields.get(key)]
    return ("\n".join(lines) + "\n").encode("utf-8")


def build(reference: Path) -> dict[str, bytes]:
    """Relative path under the data folder -> bytes, for every packaged file."""
    files: dict[str, bytes] = {}

    # CTCAE v5.0 criteria (SI and US units), the admiral layout the grading reads
    for units in ("si", "us"):
        source = reference / "ctcae" / f"ctcae-v5-{units}.json"
        raw = source.read_bytes()
        entries = json.loads(raw)
        kept = [{k: e[k] for k in CTCAE_FIELDS if e.get(k) not in (None, "")} for e in entries]
        files[f"ctcae/5.0/{units}.json"] = (json.dumps(kept, indent=1, ensure_ascii=True) + "\n").encode("ascii")
        files[f"ctcae/5.0/{units}.PROVENANCE"] = provenance(
            kind="ctcae", version="5.0", files=f"{units}.json", source=f"ctcae/ctcae-v5-{units}.json",
            source_sha256=sha256(raw), source_project="pharmaverse/admiral (data-raw/adlb_grading, NCI CTCAE v5.0 "
            f"lab criteria in {units.upper()} units)", published="2017-11-27 (CTCAE v5.0)", licence=ADMIRAL_LICENCE,
            notes="fields kept: " + ", ".join(CTCAE_FIELDS) + " (the Definition text is left out)")

    # SDTMIG 3.4 and ADaMIG 1.3 variable metadata
    for kind, version, name, columns, published in (
            ("sdtmig", "3.4", "sdtmig-3.4-variables.csv", SDTMIG_COLUMNS, "2021-11-29 (SDTMIG v3.4)"),
            ("adamig", "1.3", "adamig-1.3-variables.csv", ADAMIG_COLUMNS, "2021-02-12 (ADaMIG v1.3)")):
        source = reference / "implementation-guides" / name
        raw = source.read_bytes()
        rows = read_table(raw, columns, ",", str(source))
        files[f"{kind}/{version}/variables.tsv"] = table_text(rows, list(columns.values()))
        files[f"{kind}/{version}/PROVENANCE"] = provenance(
            kind=kind, version=version, files="variables.tsv", source=f"implementation-guides/{name}",
            source_sha256=sha256(raw), source_project="rubentalstra/Trial-Submission-Studio (CDISC Library style "
            "export)", published=published, licence=CDISC_LICENCE,
            notes="columns kept: " + ", ".join(f"{new} <- {old!r}" for old, new in columns.items()))

    # NCI SDTM CT 2025-03-28 (the full package, from its tar.xz), ADaM CT 2025-03-28, Define-XML CT 2025-09-26
    archive = reference / "controlled-terminology" / "sdtm-ct-2025-03-28.tar.xz"
    raw = archive.read_bytes()
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:xz") as tar:
        member = tar.getmember("SDTM Terminology.txt")
        text = tar.extractfile(member).read()  # type: ignore[union-attr]
    rows = read_table(text, CT_COLUMNS, "\t", f"{archive}:SDTM Terminology.txt")
    files["ct/2025-03-28/sdtm.tsv.gz"] = gzipped(table_text(rows, list(CT_COLUMNS.values())))
    ct_notes = "columns kept: " + ", ".join(f"{new} <- {old!r}" for old, new in CT_COLUMNS.items())
    sources = [("SDTM CT", "sdtm.tsv.gz", f"controlled-terminology/sdtm-ct-2025-03-28.tar.xz (member 'SDTM "
                f"Terminology.txt', SHA-256 {sha256(text)})", sha256(raw), "NCI EVS via patterninstitute/sdtm.terminology")]
    for publishing_set, version, name, target in (("ADaM CT", "2025-03-28", "adam-ct-2025-03-28.csv", "adam.tsv"),
                                                  ("Define-XML CT", "2025-09-26", "define-xml-ct-2025-09-26.csv",
                                                   "define-xml.tsv")):
        source = reference / "controlled-terminology" / name
        raw = source.read_bytes()
        rows = read_table(raw, CT_COLUMNS, ",", str(source))
        kind = "ct" if publishing_set == "ADaM CT" else "define_ct"
        files[f"{kind}/{version}/{target}"] = table_text(rows, list(CT_COLUMNS.values()))
        entry = (publishing_set, target, f"controlled-terminology/{name}", sha256(raw),
                 "NCI EVS via rubentalstra/Trial-Submission-Studio")
        if kind == "ct":
            sources.append(entry)
        else:
            files[f"{kind}/{version}/PROVENANCE"] = provenance(
                kind=kind, version=version, files=target, source=entry[2], source_sha256=entry[3],
                source_project=entry[4], published=f"{version} (NCI EVS Define-XML CT)", licence=NCI_LICENCE,
                notes=ct_notes)
    for publishing_set, target, source_name, digest, project in sources:
        stem = target.split(".")[0]
        files[f"ct/2025-03-28/{stem}.PROVENANCE"] = provenance(
            kind="ct", version="2025-03-28", files=target, source=source_name, source_sha256=digest,
            source_project=project, published=f"2025-03-28 (NCI EVS {publishing_set})", licence=NCI_LICENCE,
            notes=ct_notes)
    return dict(sorted(files.items()))


def write(files: dict[str, bytes], out: Path) -> None:
    for relative, data in files.items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE, help="the public reference folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the package's standards data folder")
    args = parser.parse_args(argv)
    if not args.reference.is_dir():
        print(f"{args.reference}: reference folder not found", file=sys.stderr)
        return 2
    files = build(args.reference)
    write(files, args.out)
    total = sum(len(d) for d in files.values())
    print(f"wrote {len(files)} files, {total:,} bytes, to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
