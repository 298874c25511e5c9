"""IEEE -> IBM 370 conversion checked against an exact, independent decoder (Fractions)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdtmgen.xpt import ieee_to_ibm

MISSING = bytes.fromhex("2e00000000000000")


def decode_ibm(word: bytes) -> Fraction:
    """Exact value of a normalised IBM 370 double: (-1)**s * 0.F * 16**(E - 64)."""
    assert len(word) == 8
    sign = -1 if word[0] & 0x80 else 1
    exponent = (word[0] & 0x7F) - 64
    fraction = int.from_bytes(word[1:], "big")
    return sign * Fraction(fraction, 2**56) * Fraction(16) ** exponent


def encode(values) -> list[bytes]:
    words, overflow = ieee_to_ibm(np.asarray(values, dtype=np.float64))
    assert words.dtype == np.dtype(">u8")
    raw = words.tobytes()
    return [raw[i : i + 8] for i in range(0, len(raw), 8)], overflow


@pytest.mark.parametrize(
    ("value", "hexword"),
    [
        (1.0, "4110000000000000"),
        (-1.0, "c110000000000000"),
        (0.1, "401999999999999a"),
        (1 / 3, "4055555555555554"),
        (100.0, "4264000000000000"),
        (0.5, "4080000000000000"),
        (16.0, "4210000000000000"),
        (2.0**-260, "0010000000000000"),  # smallest normalised IBM number
        (np.nextafter(2.0**252, 0), "7ffffffffffffff8"),  # largest double that fits
        (1e75, "7f235fadd81c2822"),
    ],
)
def test_known_encodings(value, hexword):
    (word,), overflow = encode([value])
    assert word.hex() == hexword
    assert not overflow.any()
    assert decode_ibm(word) == Fraction(value)


def test_specials():
    words, overflow = encode([0.0, -0.0, np.nan, np.inf, -np.inf, 5e-324, 1e-300, 2.0**-261])
    assert words[:2] == [bytes(8), bytes(8)]  # zero, negative zero -> all zero bytes
    assert words[2:5] == [MISSING] * 3  # NaN and +/-inf -> SAS missing "."
    assert words[5:] == [bytes(8)] * 3  # below 16**-65: underflow to zero
    assert not overflow.any()


def test_overflow_is_flagged_not_encoded():
    words, overflow = encode([2.0**252, -1e76, 1e308, 7.2e75])
    assert overflow.tolist() == [True, True, True, False]
    assert words[:3] == [MISSING] * 3


def test_every_binary_exponent_in_range_is_exact():
    exps = np.arange(-260, 252)
    mantissas = [1.0, 1.5, np.nextafter(2.0, 0), 1 + 2.0**-52]
    values = np.concatenate([np.ldexp(m, exps) for m in mantissas])
    values = np.concatenate([values, -values])
    words, overflow = encode(values)
    assert not overflow.any()
    for value, word in zip(values, words):
        assert word[1] >> 4 != 0, f"not normalised: {value!r} -> {word.hex()}"
        assert decode_ibm(word) == Fraction(float(value))


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-7.2e75, max_value=7.2e75))
def test_round_trip_exact_property(value):
    (word,), overflow = encode([value])
    assert not overflow.any()
    if value == 0 or abs(value) < 2.0**-260:
        assert word == bytes(8)
    else:
        decoded = decode_ibm(word)
        assert decoded == Fraction(value)
        assert math.copysign(1, value) == (-1 if word[0] & 0x80 else 1)
