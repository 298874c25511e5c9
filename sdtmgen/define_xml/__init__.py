"""Define-XML 2.1 for a package of datasets: writing, consistency checks and pipeline integration.

``write_define`` writes the document; ``check_define`` compares a written define.xml with the
dataset files next to it; ``write_define_package`` does both for one package folder (sdtm/, adam/)
and copies CDISC's stylesheet next to it.
"""

from .writer import DEFAULT_CREATION, build_define, write_define

__all__ = ["DEFAULT_CREATION", "build_define", "write_define"]
