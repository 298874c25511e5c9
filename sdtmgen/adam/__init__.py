"""ADaM (ADaMIG 1.3) derivations, one module per family; importing registers them all.

The build itself is :func:`sdtmgen.adam.build.build_adam` (imported lazily: it needs the spec models,
which need this registry).
"""

from sdtmgen.adam import adsl, dates, grading, labs, occurrences, records, tte  # noqa: F401
from sdtmgen.adam.base import ADAM_DERIVATIONS, AdamContext, AdamDerivation, register_adam_derivation  # noqa: F401

__all__ = ["ADAM_DERIVATIONS", "AdamContext", "AdamDerivation", "register_adam_derivation"]
