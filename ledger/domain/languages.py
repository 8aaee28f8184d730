"""Languages of a grant (dubbed or subtitled versions), as ISO 639 codes.

This module owns how a language list such as ``ko,zh``, ``kor`` or ``Korean`` becomes a
set of codes: ISO 639-1 (two letters) where the language has one, otherwise ISO 639-3,
resolved through pycountry. Script and region subtags (``zh-Hans``, ``pt-BR``) are refused
rather than dropped, because dropping them would silently widen what a grant covers.
"""

from __future__ import annotations

import difflib
import re
from functools import cache
from typing import Any

import pycountry

from ledger.errors import BadInput


def _code(language: Any) -> str:
    return str(getattr(language, "alpha_2", None) or language.alpha_3)


@cache
def _names() -> dict[str, str]:
    """Lower-cased English names (Korean, Mandarin Chinese, "Chinese, Mandarin") -> code."""
    names: dict[str, str] = {}
    # Languages with a two-letter code go first so that their names win any clash
    # and suggestions favour the languages films are actually released in.
    ordered = sorted(pycountry.languages, key=lambda lang: not hasattr(lang, "alpha_2"))
    for language in ordered:
        for attr in ("name", "common_name", "inverted_name"):
            value = getattr(language, attr, None) or ""
            # "Catalan; Valencian" is two names for one language.
            for name in [value, *value.split(";")]:
                if name.strip():
                    names.setdefault(name.strip().casefold(), _code(language))
    # A comma separates languages in a list, so "Chinese, Mandarin" cannot be typed.
    names.setdefault("mandarin", "cmn")
    names.setdefault("cantonese", "yue")
    return names


@cache
def _major_names() -> list[str]:
    return [name for name, code in _names().items() if len(code) == 2]


def _resolve(text: str) -> str:
    folded = text.casefold()
    # Codes first and by their own field: pycountry's lookup("ko") finds the language
    # *named* "Ko" (fuj) before Korean.
    if re.fullmatch(r"[a-z]{2}", folded):
        language = pycountry.languages.get(alpha_2=folded)
        if language is not None:
            return _code(language)
    if re.fullmatch(r"[a-z]{3}", folded):
        language = pycountry.languages.get(alpha_3=folded) or pycountry.languages.get(
            bibliographic=folded
        )
        if language is not None:
            return _code(language)
    subtags = re.fullmatch(r"([a-z]{2,3})[-_][a-z0-9]{2,8}(?:[-_][a-z0-9]{1,8})*", folded)
    if subtags and (pycountry.languages.get(alpha_2=subtags.group(1)) or len(folded) <= 3):
        raise BadInput(
            f"language '{text}' has a script or region subtag: give the ISO 639 code "
            f"alone (e.g. {subtags.group(1)}); scripts and regions are not tracked"
        )
    code = _names().get(folded)
    if code is not None:
        return code
    close = difflib.get_close_matches(folded, _major_names(), n=1, cutoff=0.75)
    close = close or difflib.get_close_matches(folded, list(_names()), n=1, cutoff=0.75)
    if close:
        suggestion = _names()[close[0]]
        return _unknown(text, f" (did you mean {close[0].title()} ({suggestion})?)")
    return _unknown(text, "")


def _unknown(text: str, hint: str) -> str:
    raise BadInput(f"unknown language '{text}'{hint}")


def parse_languages(text: str) -> frozenset[str]:
    """The ISO 639 codes in a comma- or semicolon-separated list (`ko,zh`, `Korean`)."""
    items = [item.strip() for item in re.split(r"[,;]", text) if item.strip()]
    if not items:
        raise BadInput("no languages given")
    return frozenset(_resolve(item) for item in items)
