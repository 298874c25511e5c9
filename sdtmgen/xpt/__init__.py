"""SAS Transport (XPORT) version 5 files: a vectorised writer, a vectorised reader and a pyreadstat one."""

from .ibm_float import ieee_to_ibm
from .reader import XptMeta, read_xpt_columns
from .layout import XptLayout, parse_layout
from .writer import DEFAULT_CREATED, XptError, XptVariable, parse_format, read_xpt, write_xpt

__all__ = [
    "DEFAULT_CREATED",
    "XptError",
    "XptLayout",
    "XptMeta",
    "XptVariable",
    "ieee_to_ibm",
    "parse_format",
    "parse_layout",
    "read_xpt",
    "read_xpt_columns",
    "write_xpt",
]
