"""Define-XML 2.1 for a package of datasets: writing, consistency checks and pipeline integration.

``write_define`` writes the document; ``check_define`` compares a written define.xml with the
dataset files next to it; ``render_define_html`` turns a define.xml tree into the readable
``define.html``; ``write_define_package`` does all three for one package folder (sdtm/, adam/) and
copies CDISC's stylesheet next to it when the spec names one.

The names below are loaded on first use: importing one submodule (``sdtmgen.define_xml.standards``, which
the spec loader uses to check the study's Define-XML CT) runs this file first, and must not load the
writer, which needs the report's method texts and through them the spec loader (an import cycle).
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .html import render_define_html, write_define_html
    from .writer import DEFAULT_CREATION, build_define, write_define

__all__ = ["DEFAULT_CREATION", "build_define", "render_define_html", "write_define", "write_define_html"]

_FROM = {"DEFAULT_CREATION": "writer", "build_define": "writer", "write_define": "writer",
         "render_define_html": "html", "write_define_html": "html"}


def __getattr__(name: str) -> object:
    if name in _FROM:
        from importlib import import_module

        return getattr(import_module(f"sdtmgen.define_xml.{_FROM[name]}"), name)
    raise AttributeError(f"module 'sdtmgen.define_xml' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_FROM])
