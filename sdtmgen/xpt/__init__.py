"""SAS Transport (XPORT) version 5 files: a vectorised writer and a thin reader."""

from .ibm_float import ieee_to_ibm
from .layout import XptLayout, parse_layout
from .writer import DEFAULT_CREATED, XptError, XptVariable, parse_format, read_xpt, write_xpt

__all__ = [
    "DEFAULT_CREATED",
    "XptError",
    "XptLayout",
    "XptVariable",
    "ieee_to_ibm",
    "parse_format",
    "parse_layout",
    "read_xpt",
    "write_xpt",
]
