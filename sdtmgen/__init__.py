"""sdtmgen: raw CRF exports to CDISC SDTM, ADaM, XPT v5 and define.xml, driven by a study spec.

Python API (loaded on first use, so ``import sdtmgen`` stays cheap and changes nothing in the host program)::

    import sdtmgen
    result = sdtmgen.build("specs")            # nothing written; result.sdtm["DM"] is a DataFrame
    findings = sdtmgen.validate("specs")
"""

__version__ = "0.1.0"

__all__ = ["BuildResult", "build", "load_spec", "validate", "__version__"]

_API = frozenset({"BuildResult", "build", "load_spec", "validate"})


def __getattr__(name: str) -> object:
    if name in _API:
        from sdtmgen import api

        # `validate` is also the sdtmgen.validate package, which calling runs api.validate
        return globals()[name] if name in globals() else getattr(api, name)
    raise AttributeError(f"module 'sdtmgen' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
