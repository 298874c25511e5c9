"""sdtmgen: raw CRF exports to CDISC SDTM, ADaM, XPT v5 and define.xml, driven by a study spec."""

__version__ = "0.1.0"
