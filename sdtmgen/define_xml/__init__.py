"""Define-XML 2.1 for a package of datasets: writing, consistency checks and pipeline integration.

``write_define`` writes the document; ``check_define`` compares a written define.xml with the
dataset files next to it; ``render_define_html`` turns a define.xml tree into the readable
``define.html``; ``write_define_package`` does all three for one package folder (sdtm/, adam/) and
copies CDISC's stylesheet next to it when the spec names one.
"""

from .html import render_define_html, write_define_html
from .writer import DEFAULT_CREATION, build_define, write_define

__all__ = ["DEFAULT_CREATION", "build_define", "render_define_html", "write_define", "write_define_html"]
