"""Translations for every string the kiosk shows: a flat JSON catalogue per language in
``assets/i18n/<lang>.json`` (``"reason.move_closer": "Come closer"``).

A plain catalogue rather than Qt ``.ts/.qm`` files because the same texts are used by
the headless demo and by tests that check every quality reason code and liveness prompt
has a sentence in Kazakh, Russian and English. This module imports no Qt.

Lookup falls back to English, then to the key itself, so a missing translation shows
something readable and is logged once instead of crashing the door.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiosk.config import BUNDLED_ASSETS

log = logging.getLogger(__name__)

LANGUAGES = ("kk", "ru", "en")
FALLBACK = "en"
# The door greets in Kazakh first; each person may switch (and is switched back when idle).
DEFAULT_LANGUAGE = "kk"
# Each language names itself on the switch button, so an applicant finds their own.
NATIVE_NAMES = {"kk": "Қазақша", "ru": "Русский", "en": "English"}


# Latin-script words a Kazakh or Russian text may carry, because native texts use them too
# ("QR-код", "PIN-код"), or, on the technician's calibration screen only, because they
# are names to type or look up: metric acronyms and the config key to set.
LATIN_IN_ANY_TEXT = frozenset({"QR", "PIN"})
LATIN_IN_TECHNICIAN_TEXT = frozenset({"FMR", "FNMR", "EER", "match", "calibration_file", "P"})


def latin_words(text: str, *, technician: bool = False) -> list[str]:
    """Latin-script words in a (Kazakh or Russian) text, placeholders aside: English or an
    internal name that slipped into a screen. Codes mixing letters and digits (a booking
    code, a room "A-101") are data, not words."""
    allowed = LATIN_IN_ANY_TEXT | (LATIN_IN_TECHNICIAN_TEXT if technician else frozenset())
    text = re.sub(r"\{[^}]*\}", " ", text)
    words = re.findall(r"(?<![\w-])[A-Za-z_]+(?![\w])", text)
    return [w for w in words if w not in allowed and len(w) > 1]


def catalogue_dir(assets_dir: str | Path | None = None) -> Path:
    return Path(assets_dir or BUNDLED_ASSETS) / "i18n"


def load_catalogue(language: str, assets_dir: str | Path | None = None) -> dict[str, str]:
    path = catalogue_dir(assets_dir) / f"{language}.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in data.items() if not k.startswith("_")}


class _SafeDict(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class Translator:
    """The current language and its catalogue; widgets re-read texts on `changed`."""

    def __init__(self, language: str = FALLBACK, assets_dir: str | Path | None = None) -> None:
        self._catalogues = {lang: load_catalogue(lang, assets_dir) for lang in LANGUAGES}
        self._language = FALLBACK
        self._listeners: list[Callable[[str], None]] = []
        self._missing: set[tuple[str, str]] = set()
        self.set_language(language)

    @property
    def language(self) -> str:
        return self._language

    def set_language(self, language: str) -> None:
        if language not in self._catalogues:
            log.warning("unknown language %r; keeping %s", language, self._language)
            return
        changed = language != self._language
        self._language = language
        if changed:
            for listener in list(self._listeners):
                listener(language)

    def on_change(self, listener: Callable[[str], None]) -> None:
        self._listeners.append(listener)

    def has(self, key: str, language: str | None = None) -> bool:
        return key in self._catalogues[language or self._language]

    def keys(self, language: str) -> set[str]:
        return set(self._catalogues[language])

    def t(self, key: str, /, **values: Any) -> str:
        """The sentence for `key` in the current language, with ``{name}`` fields filled."""
        text = self._catalogues[self._language].get(key)
        if text is None:
            if (self._language, key) not in self._missing:
                self._missing.add((self._language, key))
                log.warning("no %s translation for %r", self._language, key)
            text = self._catalogues[FALLBACK].get(key, key)
        return text.format_map(_SafeDict(values)) if values else text

    def t_in(self, language: str, key: str, /, **values: Any) -> str:
        """`t` in another language (the idle screen greets in Kazakh and Russian at once)."""
        text = self._catalogues.get(language, {}).get(key) or self._catalogues[FALLBACK].get(
            key, key
        )
        return text.format_map(_SafeDict(values)) if values else text

    def t_opt(self, prefix: str, code: str | None, **values: Any) -> str:
        """`t(prefix + "." + code)` for an optional code from the core; "" for None, and
        the code itself when the core sends one nobody translated yet."""
        if not code:
            return ""
        key = f"{prefix}.{code}"
        if key not in self._catalogues[FALLBACK] and key not in self._catalogues[self._language]:
            log.warning("untranslated code %r", key)
            return code.replace("_", " ")
        return self.t(key, **values)
