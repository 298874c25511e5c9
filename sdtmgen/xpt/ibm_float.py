"""IEEE 754 double -> IBM System/370 double ("hexadecimal floating point"), vectorised.

An IBM double is ``(-1)**sign * 0.F * 16**(E - 64)``: 1 sign bit, a 7-bit excess-64 base-16
exponent and a 56-bit fraction ``F`` whose first hex digit is non-zero (normalised).

An IEEE double has a 53-bit significand, so shifting it left by the 0..3 bits that the base-16
exponent needs still fits in the 56-bit IBM fraction: every IEEE double inside the IBM range
converts *exactly*, there is nothing to round or truncate. Only the range differs:

* ``|x| >= 2**252`` (about 7.24e75) does not fit: :func:`ieee_to_ibm` reports it through
  ``overflow`` and the caller decides (the XPT writer raises).
* ``|x| < 2**-260`` (16**-65, about 5.4e-79, the smallest normalised IBM number) underflows
  to zero, as SAS and ReadStat do (no unnormalised IBM numbers are written).

Missing values: NaN -> SAS missing ``.`` which is ``0x2E`` followed by seven zero bytes.
+/-inf have no IBM or SAS counterpart; they are written as missing ``.`` too.
Zero and -0.0 -> eight zero bytes.
"""

from __future__ import annotations

import numpy as np

#: SAS ordinary missing value ``.`` as a big-endian 64-bit word.
SAS_MISSING = np.uint64(0x2E00_0000_0000_0000)

#: Smallest power-of-two exponent (unbiased, IEEE) that overflows the IBM format: 2**252.
_IBM_OVERFLOW_EXP = 252
#: Unbiased IEEE exponents below this underflow: 2**-260 == 16**-65.
_IBM_UNDERFLOW_EXP = -260

_MANT_MASK = np.uint64((1 << 52) - 1)
_HIDDEN_BIT = np.uint64(1 << 52)


def ieee_to_ibm(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Convert float64 values to IBM 370 doubles.

    Returns ``(words, overflow)``: ``words`` is a ``>u8`` (big-endian uint64) array whose raw
    bytes are the XPT representation, ``overflow`` a boolean array flagging finite values with
    ``|x| >= 2**252`` (their word is left as SAS missing; the caller must reject them).
    """
    x = np.ascontiguousarray(values, dtype=np.float64)
    bits = x.view(np.uint64)
    sign = bits >> np.uint64(63)
    biased = ((bits >> np.uint64(52)) & np.uint64(0x7FF)).astype(np.int64)
    mant = (bits & _MANT_MASK) | _HIDDEN_BIT

    # IEEE zero / subnormals (biased == 0) and inf/nan (biased == 0x7FF) are handled below.
    p = biased - 1023  # value = 1.m * 2**p
    shift = (p & 3).astype(np.uint64)  # floor-mod 4, also for negative p
    fraction = mant << shift  # < 2**56, leading hex digit non-zero
    ibm_exp = (p >> 2) + 65  # floor(p / 4) + 65

    normal = (biased != 0) & (biased != 0x7FF)
    overflow = normal & (p >= _IBM_OVERFLOW_EXP)
    underflow = (biased == 0) | (normal & (p < _IBM_UNDERFLOW_EXP))
    special = biased == 0x7FF  # inf and nan
    good = normal & ~overflow & ~underflow

    safe_exp = np.where(good, ibm_exp, 0).astype(np.uint64)
    words = (sign << np.uint64(63)) | (safe_exp << np.uint64(56)) | fraction
    words = np.where(good, words, np.uint64(0))
    words = np.where(special | overflow, SAS_MISSING, words)
    return words.astype(">u8"), overflow

