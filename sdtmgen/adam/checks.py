"""Load-time checks of the ADaM specs: names that must point at something."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from sdtmgen.spec.models import Spec

SUPP_VARIABLES = {"STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "QNAM", "QLABEL", "QVAL", "QORIG", "QEVAL"}


def adam_reference_problems(spec: "Spec", where: Callable[[Any, tuple], str]) -> list[str]:
    """Unknown codelists, datasets and variables named by the ADaM dataset specs."""
    problems: list[str] = []
    codelists = spec.terminology.ids()
    sdtm = {d.domain: {v.name for v in d.variables} for d in spec.domains}
    supp = {f"SUPP{d.domain}": SUPP_VARIABLES for d in spec.domains if d.supplemental}
    adam: dict[str, set[str]] = {}
    for ds in spec.adam:
        adam[ds.dataset] = {"USUBJID"}.union(*(step.produces() for step in ds.derivations))
    names = [ds.dataset for ds in spec.adam]
    for ds in spec.adam:
        if names.count(ds.dataset) > 1 or ds.dataset in sdtm:
            problems.append(f"{where(ds, ('dataset',))}: dataset {ds.dataset} is specified twice")
        for j, var in enumerate(ds.variables):
            if var.codelist and var.codelist not in codelists:
                problems.append(f"{where(ds, ('variables', j, 'codelist'))}: {var.name} uses unknown codelist "
                                f"{var.codelist}")
        for k, step in enumerate(ds.derivations):
            at = where(ds, ("derivations", k))
            for other, var in sorted(step.needs()):
                known = sdtm.get(other) or supp.get(other) or adam.get(other)
                if known is None:
                    problems.append(f"{at}: derivation {step.derivation_name} reads dataset {other}, which has no spec")
                elif var not in known and var != "USUBJID" and not (other in sdtm and var.startswith("_")):
                    problems.append(f"{at}: derivation {step.derivation_name} reads {other}.{var}, "
                                    f"not a variable of {other}")
    return problems
