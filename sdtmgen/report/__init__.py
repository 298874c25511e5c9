"""Results: the analysis results dataset (ARD), the HTML report and its figures, from ADaM.

One concept per module (the configuration, report.yaml, is part of the spec: ``sdtmgen.spec.report``): ``data`` (inputs and groups), ``ard`` (the
long-form results dataset), ``incidence``, ``durations`` (episodes), ``km`` (Kaplan-Meier),
``dlt`` (DLTs, 3+3, MTD), ``plots`` (figures from the frames), ``draw`` (figures from plain data),
``worker`` (the process drawing them), ``html``, ``build`` (the report folder).

The names below are loaded on first use, so that the figure worker, which imports ``sdtmgen.report.draw``
only, does not load pandas.
"""

__all__ = ["Report", "make_report", "write_report"]

_FROM = {"Report": "build", "make_report": "build", "write_report": "build"}


def __getattr__(name: str) -> object:
    if name in _FROM:
        from importlib import import_module

        return getattr(import_module(f"sdtmgen.report.{_FROM[name]}"), name)
    raise AttributeError(f"module 'sdtmgen.report' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_FROM])
