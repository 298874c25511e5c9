"""Mapping rules, one module per family; importing this package registers them all."""

from sdtmgen.sdtm.rules import assign, codelist, conditional, datetime  # noqa: F401
from sdtmgen.sdtm.rules.base import RULES, MapContext, MappingRule, register_rule  # noqa: F401

__all__ = ["RULES", "MapContext", "MappingRule", "register_rule"]
