"""Define-XML data types, lengths and significant digits, from a variable's spec and its values.

* Num variables are ``integer`` when every value is a whole number, else ``float`` (with
  ``SignificantDigits``: the spec's ``significant_digits`` or the most decimals in the data).
* Char variables named ``--DTC`` / ``--DUR`` hold ISO 8601 text; their type follows the content:
  ``date`` (all YYYY-MM-DD), ``datetime`` (all YYYY-MM-DDThh:mm:ss), ``partialDate``,
  ``partialDatetime`` (reduced precision), ``incompleteDatetime`` (missing middle components),
  ``durationDatetime`` (ISO 8601 durations); other Char variables are ``text``.
* Value-level items (one test's results) are typed by content: ``integer`` / ``float`` when every
  value is a number written as text, ISO types as above, else ``text``.
* ``Length`` is the XPT length written (Char: bytes; Num: 8). Define-XML 2.1 gives a Length only
  for text, integer and float; ISO 8601 types carry none.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Iterable

import numpy as np
import pandas as pd

from .distinct import unique_present

NUM_LENGTH = 8

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?\Z")
_PARTIAL_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?\Z")
_PARTIAL_DATETIME = re.compile(r"\d{4}(-\d{2}(-\d{2}(T\d{2}(:\d{2}(:\d{2}(\.\d+)?)?)?)?)?)?\Z")
_INCOMPLETE = re.compile(r"(\d{4}|-)(-(\d{2}|-)(-(\d{2}|-)(T(\d{2}|-)(:(\d{2}|-)(:(\d{2}|-))?)?)?)?)?\Z")
_DURATION = re.compile(r"-?P(?=[\dT])(\d+(\.\d+)?Y)?(\d+(\.\d+)?M)?(\d+(\.\d+)?W)?(\d+(\.\d+)?D)?"
                       r"(T(?=\d)(\d+(\.\d+)?H)?(\d+(\.\d+)?M)?(\d+(\.\d+)?S)?)?\Z")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\Z")

#: Define-XML data types whose values are ISO 8601 text (no Length attribute)
ISO_TYPES = frozenset({"date", "datetime", "time", "partialDate", "partialTime", "partialDatetime",
                       "incompleteDatetime", "incompleteDate", "incompleteTime", "durationDatetime",
                       "intervalDatetime"})
LENGTH_TYPES = frozenset({"text", "integer", "float"})


def present_text(values: pd.Series | None) -> list[str]:
    """The distinct non-missing, non-blank values as stripped strings, in order of first appearance."""
    if values is None or len(values) == 0:
        return []
    ascii_text = _ascii_present_text(values)
    if ascii_text is not None:
        return ascii_text.to_pylist()
    seen: dict[str, None] = {}
    for value in unique_present(values):
        text = str(value).strip()
        if text:
            seen.setdefault(text, None)
    return list(seen)



_ARROW_MIN = 256  # fewer values are quicker one by one in Python than through a chain of Arrow calls
#: what ``str.strip()`` strips from ASCII text
_ASCII_SPACE = "".join(chr(c) for c in range(128) if chr(c).isspace())


def _ascii_present_text(values: pd.Series):
    """``present_text`` of Arrow-backed text that is all ASCII, as an Arrow array, computed by Arrow.

    None for other values (a few, not Arrow text, or not ASCII: Python's ``strip`` and ``\\d``
    know more than ASCII, so those take the Python path).
    """
    arrow_text = isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"
    if len(values) < _ARROW_MIN or not arrow_text:
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    distinct = pa.array(pd.unique(values)).drop_null()  # in order of first appearance
    if pc.all(pc.string_is_ascii(distinct)).as_py() is False:
        return None
    stripped = pc.ascii_trim(distinct, characters=_ASCII_SPACE)
    return pc.unique(stripped.filter(pc.not_equal(stripped, "")))


def present_numbers(values: pd.Series | None) -> np.ndarray:
    if values is None or len(values) == 0:
        return np.array([], dtype=float)
    nums = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return nums[np.isfinite(nums)]


_ISO_PATTERNS = (("date", _DATE), ("datetime", _DATETIME), ("partialDate", _PARTIAL_DATE),
                 ("partialDatetime", _PARTIAL_DATETIME), ("incompleteDatetime", _INCOMPLETE),
                 ("durationDatetime", _DURATION))


def iso8601_type(texts: Iterable[str]) -> str | None:
    """The Define-XML ISO 8601 type all ``texts`` fit, or None (at least one value needed)."""
    texts = list(texts)
    if not texts:
        return None
    for kind, pattern in _ISO_PATTERNS:
        if all(pattern.match(t) for t in texts):
            return kind
    return None


def _iso8601_type_ascii(texts) -> str | None:
    """``iso8601_type`` of an Arrow array of ASCII texts, each pattern matched by Arrow (RE2).

    On ASCII text RE2 matches as Python does (``\\d`` is [0-9]; ``$`` is the end of the text, as
    ``\\Z``); the duration pattern has a look-ahead RE2 does not know, so it runs in Python.
    """
    import pyarrow.compute as pc

    if len(texts) == 0:
        return None
    head = texts.slice(0, 64).to_pylist()
    for kind, pattern in _ISO_PATTERNS:
        if not all(pattern.match(t) for t in head):  # most types fail on the first values
            continue
        if "(?=" in pattern.pattern:
            fits = all(pattern.match(t) for t in texts.to_pylist())
        else:
            fits = pc.all(pc.match_substring_regex(texts, "^" + pattern.pattern.replace(r"\Z", "$"))).as_py()
        if fits:
            return kind
    return None


def decimals(number_text: str) -> int:
    """Digits after the decimal point of a number written as text ("1.50" -> 2, "1e-3" -> 3)."""
    try:
        exponent = Decimal(number_text).as_tuple().exponent
    except InvalidOperation:
        return 0
    return max(0, -int(exponent)) if isinstance(exponent, int) else 0


def number_decimals(values: np.ndarray) -> int:
    """Most decimals needed to write the numbers (shortest round-trip text, at most 15 digits).

    That is the most ``decimals(format(v, ".15g"))`` over the values that are not whole numbers,
    computed for all distinct values at once (:func:`_fifteen_digit_decimals`).
    """
    nums = np.abs(pd.unique(np.asarray(values, dtype=float)))  # the distinct values first: one pass over all
    nums = nums[np.isfinite(nums) & (nums != np.floor(nums))]
    if not len(nums):
        return 0
    return int(_fifteen_digit_decimals(pd.unique(nums)).max())


_SPLIT = 134217729.0  # 2**27 + 1: Dekker's splitting constant


def _split(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x = high + low, each with at most 26 significant bits (so their products are exact)."""
    scaled = _SPLIT * x
    high = scaled - (scaled - x)
    return high, x - high


def _fifteen_digit_decimals(nums: np.ndarray) -> np.ndarray:
    """``decimals(format(v, ".15g"))`` of each positive, finite, fractional ``v``, vectorised.

    With ``e = floor(log10(v))`` the text has the 15 significant digits ``n``, the integer nearest
    to ``v * 10**(14 - e)``, without trailing zeros: ``14 - e - trailing_zeros(n)`` decimals.
    The product is taken exactly (rounded product + its error, Dekker's two-product; 10**k is an
    exact double for k <= 22), so the rounding to ``n`` is decided exactly; values where that is
    not certain (a tie, ``e`` off by one near a power of ten, a scale beyond 10**22) are formatted
    one by one as before -- in clinical data a handful.
    """
    e = np.floor(np.log10(nums)).astype(np.int64)
    power = 14 - e
    scale = 10.0 ** np.clip(power, 0, 22)
    product = nums * scale
    num_high, num_low = _split(nums)
    scale_high, scale_low = _split(scale)
    error = ((num_high * scale_high - product) + num_high * scale_low + num_low * scale_high) + num_low * scale_low
    whole = np.floor(product)
    fraction = (product - whole) + error  # the exact product is whole + fraction
    certain = ((power >= 0) & (power <= 22) & (np.abs(fraction - 0.5) > 1e-9)
               & ((whole > 1e14) | ((whole == 1e14) & (fraction >= 0))) & (whole < 1e15 - 1))
    digits = np.where(certain, whole + (fraction > 0.5), 1e14).astype(np.int64)
    trailing = np.zeros(len(digits), dtype=np.int64)
    for k in range(1, 15):
        trailing += digits % 10**k == 0
    out = np.maximum(0, power - trailing)
    for i in np.flatnonzero(~certain):
        out[i] = decimals(format(float(nums[i]), ".15g"))
    return out


def num_type(values: pd.Series | None, declared_digits: int | None = None) -> tuple[str, int | None]:
    """(DataType, SignificantDigits) of a Num variable."""
    if declared_digits is None and _whole_numbers(values):
        return "integer", None
    if declared_digits is not None:
        return "float", declared_digits
    return "float", max(1, number_decimals(present_numbers(values)))


_WHOLE_STEP = 1 << 16  # numbers judged this many at a time: small scratch memory, and a fraction stops early


def _whole_numbers(values: pd.Series | None) -> bool:
    """Every finite value is a whole number (true when there are none)."""
    if values is not None and values.dtype == np.float64:  # the usual column: no copies, no filtering
        numbers = values.to_numpy()
        scratch = np.empty(min(len(numbers), _WHOLE_STEP))
        for start in range(0, len(numbers), _WHOLE_STEP):
            part = numbers[start:start + _WHOLE_STEP]
            fraction = np.floor(part, out=scratch[:len(part)])
            with np.errstate(invalid="ignore"):  # inf - inf
                np.subtract(part, fraction, out=fraction)
            if np.any(fraction > 0):  # NaN and inf give NaN: not > 0
                return False
        return True
    nums = present_numbers(values)
    return len(nums) == 0 or bool(np.all(nums == np.floor(nums)))


def is_iso_name(name: str) -> bool:
    return name.endswith("DTC") or name.endswith("DUR")


def char_type(name: str, values: pd.Series | None) -> str:
    """DataType of a Char variable: ISO 8601 types for --DTC/--DUR, else text."""
    if not is_iso_name(name):
        return "text"
    ascii_text = _ascii_present_text(values) if values is not None and len(values) else None
    if ascii_text is not None and len(ascii_text):
        return _iso8601_type_ascii(ascii_text) or "text"
    texts = present_text(values)
    if not texts:
        return "durationDatetime" if name.endswith("DUR") else "datetime"
    return iso8601_type(texts) or "text"


def content_type(values: pd.Series | None, var_type: str) -> tuple[str, int | None]:
    """(DataType, SignificantDigits) judged from the values alone (value-level metadata)."""
    if var_type == "Num":
        return num_type(values)
    texts = present_text(values)
    if texts and all(_NUMBER.match(t) for t in texts):
        if all(re.fullmatch(r"[+-]?\d+", t) for t in texts):
            return "integer", None
        return "float", max(1, max(decimals(t) for t in texts))
    # a bare year ("2024") is too easily a code: ISO types need a date with a month or a duration
    if texts and all("-" in t or t.startswith("P") for t in texts):
        iso = iso8601_type(texts)
        if iso:
            return iso, None
    return "text", None


def byte_length(values: pd.Series | None) -> int:
    """Longest value in UTF-8 bytes, at least 1 (the XPT writer's rule for undeclared lengths)."""
    texts = [] if values is None else unique_present(values)
    return max([1] + [len(str(t).encode("utf-8")) for t in texts])


def xpt_length(var_type: str, declared: int | None, values: pd.Series | None) -> int:
    """The length the XPT writer gives a variable: Num 8; Char the declared length or the longest value."""
    if var_type == "Num":
        return NUM_LENGTH
    return int(declared) if declared else byte_length(values)
