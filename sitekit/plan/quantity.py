"""Kubernetes resource quantities (`500m`, `24Gi`, `1e3`) as exact fractions, for admission arithmetic."""

from __future__ import annotations

import re
from fractions import Fraction

_QUANTITY = re.compile(
    r"^(?P<num>[+-]?(\d+(\.\d*)?|\.\d+))(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$"
)
_FACTORS = {
    None: Fraction(1),
    "Ki": Fraction(2**10),
    "Mi": Fraction(2**20),
    "Gi": Fraction(2**30),
    "Ti": Fraction(2**40),
    "Pi": Fraction(2**50),
    "Ei": Fraction(2**60),
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 10**3),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}


class QuantityError(ValueError):
    """Text that the API server would not parse as a quantity."""


def parse(value: object) -> Fraction:
    """The exact value of a quantity given as text or a number (`"4"`, `4`, `"100m"`, `"1Gi"`)."""
    if isinstance(value, bool):
        raise QuantityError(f"{value!r} is not a quantity")
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        return Fraction(value).limit_denominator(10**9)
    text = str(value).strip()
    match = _QUANTITY.match(text)
    if not match:
        raise QuantityError(f"{text!r} is not a quantity such as 500m, 4 or 24Gi")
    number = Fraction(match["num"])
    suffix = match["suffix"]
    if suffix and suffix[0] in "eE" and suffix not in _FACTORS:
        exponent = int(suffix[1:])
        if abs(exponent) > 30:
            raise QuantityError(f"{text!r}: exponent out of range")
        return number * Fraction(10) ** exponent
    return number * _FACTORS[suffix]


def show(value: Fraction, resource: str = "") -> str:
    """A readable form: whole numbers plain, memory in binary units, CPU fractions in milli."""
    if resource.endswith("memory") or resource.endswith("storage") or resource.startswith("ephemeral"):
        for suffix in ("Ti", "Gi", "Mi", "Ki"):
            factor = _FACTORS[suffix]
            if value >= factor and (value / factor).denominator == 1:
                return f"{value / factor}{suffix}"
    if value.denominator == 1:
        return str(value.numerator)
    milli = value * 1000
    if milli.denominator == 1:
        return f"{milli.numerator}m"
    return f"{float(value):g}"
