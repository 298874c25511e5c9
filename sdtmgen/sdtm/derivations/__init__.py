"""Derivations on mapped SDTM records, one module per family; importing registers them all."""

from sdtmgen.sdtm.derivations import (  # noqa: F401
    baseline, elements, reference_dates, relationships, results, sequence, timing, trial_design, visits)
from sdtmgen.sdtm.derivations.base import DERIVATIONS, DeriveContext, Derivation, register_derivation  # noqa: F401

__all__ = ["DERIVATIONS", "DeriveContext", "Derivation", "register_derivation"]
