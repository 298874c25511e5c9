"""Every SDTM variable's role in the spec against CDISC's SDTMIG 3.4 metadata (define.xml writes the
spec's role, and CORE-001081 compares it with the IG)."""

from __future__ import annotations

import csv
from collections import defaultdict

from sdtmgen.spec.loader import load_spec


def _ig_roles(reference):
    by_variable, by_suffix = {}, defaultdict(set)
    with open(reference / "implementation-guides" / "sdtmig-3.4-variables.csv", newline="") as f:
        for row in csv.DictReader(f):
            domain, name, role = row["Dataset Name"], row["Variable Name"], row["Role"]
            by_variable[(domain, name)] = role
            # a general-class variable named --XXX has one role in every domain that lists it
            by_suffix[name[2:] if name.startswith(domain) else name].add(role)
    return by_variable, by_suffix


def test_every_sdtm_role_is_the_igs(reference, spec_folder):
    by_variable, by_suffix = _ig_roles(reference)
    spec = load_spec(spec_folder)
    wrong, unknown = [], []
    checked = 0
    for domain in spec.domains:
        for variable in domain.variables:
            role = by_variable.get((domain.domain, variable.name))
            if role is None:
                # a variable the IG's table for this domain does not list: its role in the other domains
                suffix = variable.name[2:] if variable.name.startswith(domain.domain) else variable.name
                roles = by_suffix.get(suffix, set())
                if len(roles) != 1:
                    unknown.append(f"{domain.domain}.{variable.name}")
                    continue
                role = next(iter(roles))
            checked += 1
            if variable.role != role:
                wrong.append(f"{domain.domain}.{variable.name}: spec {variable.role!r}, IG {role!r}")
    assert checked > 150
    assert not wrong, wrong
    assert not unknown, unknown
