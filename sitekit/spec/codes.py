"""The one rule for a country code, wherever it is read: an argument of any command or an overlay's name.

Overlay files are named with the lower-case ISO 3166-1 alpha-2 code (`ee.yaml`) and the identity's code
is upper case (`EE`), so an operator may type either; anything other than two ASCII letters is refused
before it reaches a file path (`sitekit verify ../etc` must never name a folder) or a lookup.
"""

from __future__ import annotations

import re

_CODE = re.compile(r"[A-Za-z]{2}")


class CountryCodeError(ValueError):
    """Text that is not a two-letter country code; the message says what is accepted."""


def country_code(text: str) -> str:
    """`text` as a lower-case country code (`EE` and `ee` give `ee`); `CountryCodeError` for anything else."""
    if not isinstance(text, str) or not _CODE.fullmatch(text):
        raise CountryCodeError(
            f"{text!r} is not a country code: give the two-letter ISO 3166-1 code, e.g. ee or EE"
        )
    return text.lower()


def is_overlay_code(stem: str) -> bool:
    """Whether an overlay file's name (without `.yaml`) is a country code written as files are: lower case."""
    return bool(_CODE.fullmatch(stem)) and stem == stem.lower()
