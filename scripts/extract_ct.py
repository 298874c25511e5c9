"""Print spec codelists (YAML) for chosen terms of a CDISC CT package file.

    python scripts/extract_ct.py "SDTM Terminology.txt" SEX RACE "UNIT=10^9/L|g/dL" > codelists.yaml

An argument is a codelist submission value (all its terms) or CODELIST=term|term (those terms).
The output is a starting point for a study's specs/terminology.yaml: add collected synonyms there.
"""

from __future__ import annotations

import csv
import sys

import yaml


def main(path: str, wanted: list[str]) -> None:
    with open(path, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    heads = {r["CDISC Submission Value"]: r for r in rows if not r["Codelist Code"]}
    out = []
    for arg in wanted:
        name, _, terms = arg.partition("=")
        head = heads[name]
        chosen = set(terms.split("|")) if terms else None
        members = [r for r in rows if r["Codelist Code"] == head["Code"]
                   and (chosen is None or r["CDISC Submission Value"] in chosen)]
        if chosen and len(members) != len(chosen):
            found = {r["CDISC Submission Value"] for r in members}
            raise SystemExit(f"{name}: not in the package: {sorted(chosen - found)}")
        out.append({
            "id": name, "name": head["Codelist Name"], "code": head["Code"],
            "extensible": head["Codelist Extensible (Yes/No)"] == "Yes",
            "terms": [{"value": r["CDISC Submission Value"], "code": r["Code"], "decode": r["NCI Preferred Term"],
                       **({"synonyms": [s.strip() for s in r["CDISC Synonym(s)"].split(";") if s.strip()]}
                          if r["CDISC Synonym(s)"] else {})}
                      for r in sorted(members, key=lambda r: r["CDISC Submission Value"])],
        })
    yaml.safe_dump(out, sys.stdout, sort_keys=False, allow_unicode=False, width=200, default_flow_style=None)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
