"""The console's string catalogues (kk, ru, en) and the language a request is shown in.

Every visible string is a key in `i18n/<lang>.json`; a key missing from a catalogue is a
test failure (tests/test_console_i18n.py), never an English fallback on a Kazakh page.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from starlette.requests import Request

LANGUAGES = ("kk", "ru", "en")
DEFAULT_LANGUAGE = "kk"
LANG_COOKIE = "kc_lang"
CATALOGUE_DIR = Path(__file__).resolve().parent / "i18n"


@cache
def catalogue(lang: str) -> dict[str, str]:
    data = json.loads((CATALOGUE_DIR / f"{lang}.json").read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"catalogue {lang} is not a JSON object")
    return {str(k): str(v) for k, v in data.items()}


def request_language(request: Request) -> str:
    """The cookie's language, else the first supported one in Accept-Language."""
    chosen = request.cookies.get(LANG_COOKIE, "")
    if chosen in LANGUAGES:
        return chosen
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return DEFAULT_LANGUAGE


class Translator:
    """`t("key", n=3)`: the catalogue string for the request's language, formatted."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self._strings = catalogue(lang)

    def has(self, key: str) -> bool:
        return key in self._strings

    def __call__(self, key: str, **values: Any) -> str:
        text = self._strings[key]  # KeyError is a bug the catalogue test catches
        return text.format(**values) if values else text
