"""Derivations on mapped SDTM records, one module per family; importing registers them all."""

from sdtmgen.sdtm.derivations import (  # noqa: F401
    baseline, elements, reference_dates, results, sequence, timing, visits)
from sdtmgen.sdtm.derivations.base import DERIVATIONS, DeriveContext, Derivation, register_derivation  # noqa: F401
