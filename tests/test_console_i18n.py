"""The console's catalogues: same keys in kk, ru and en; no English on Kazakh or Russian pages."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from console_support import console_centre, sync_overrides

from centre.console.i18n import LANGUAGES, catalogue
from centre.core.security import Role

# Endonyms in the language switch, acronyms, and units are the same in every language.
ALLOWED_LATIN = {"CSV", "JSON", "SHA"}
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
# On rendered pages, a Latin word stands alone: letters inside a hex id or a hash
# ("…3be4…", which read as "be") are data, and made the page test fail at random.
PAGE_WORD = re.compile(r"(?<![0-9A-Za-z])[A-Za-z]{2,}(?![0-9A-Za-z])")
PAGES = [
    "/console/dashboard",
    "/console/overrides",
    "/console/incidents",
    "/console/devices",
    "/console/rosters",
    "/console/staff",
]


def test_every_key_is_in_every_language() -> None:
    keys = {lang: set(catalogue(lang)) for lang in LANGUAGES}
    for lang in LANGUAGES:
        assert keys[lang] == keys["en"], (lang, keys[lang] ^ keys["en"])
        assert all(v.strip() for v in catalogue(lang).values()), lang


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_kazakh_and_russian_strings_have_no_latin_words(lang: str) -> None:
    for key, value in catalogue(lang).items():
        if key.startswith("lang."):
            continue
        words = set(LATIN_WORD.findall(re.sub(r"\{\w+\}", "", value))) - ALLOWED_LATIN
        assert not words, (lang, key, value)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[str] = []

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # What a person reads besides text: placeholders, titles, labels of controls.
        self.chunks += [v or "" for k, v in attrs if k in ("placeholder", "title", "aria-label")]


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(parser.chunks)


def test_a_hex_id_on_a_page_is_not_an_english_word() -> None:
    assert PAGE_WORD.findall("запись 9f3be41c, ключ be04aa: will be sent") == ["will", "be", "sent"]


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_kazakh_and_russian_pages_show_no_english_ui_words(lang: str, tmp_path: Path) -> None:
    centre = console_centre(tmp_path, f"sqlite:///{tmp_path / 'c.sqlite'}")
    try:
        sync_overrides(centre, tmp_path)
        centre.staff_with_password("ada", Role.admin)
        client = centre.sign_in("ada", **{"Accept-Language": lang})
        english = {
            v for k, v in catalogue("en").items() if not k.startswith("lang.") and len(v) > 2
        }
        english_words = {w for v in english for w in LATIN_WORD.findall(v)} - ALLOWED_LATIN
        # Data on the pages (ids, rooms, reason codes) is Latin by nature; UI words are not.
        data_words = {"R", "S", "P", "bribed", "honest", "twin", "sibling", "door", "console"}
        for path in [*PAGES, "/console/signin"]:
            r = client.get(path)
            assert r.status_code == 200, path
            assert f'<html lang="{lang}">' in r.text
            words = set(PAGE_WORD.findall(visible_text(r.text))) - data_words
            leaked = sorted(words & english_words)
            assert not leaked, (lang, path, leaked)
    finally:
        centre.close()
