"""sdtmgen: raw CRF exports to CDISC SDTM, ADaM, XPT v5 and define.xml, driven by a study spec."""

__version__ = "0.1.0"

import pandas as _pd

# Text columns use Arrow-backed strings: vectorised string kernels instead of a Python call per cell.
_pd.set_option("mode.string_storage", "pyarrow")
