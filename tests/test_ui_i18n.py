"""The translation catalogues: every code the core can send has a sentence in Kazakh,
Russian and English, with the same placeholders, and the translator falls back safely."""

from __future__ import annotations

import re

import pytest

from kiosk.checkin.decision import Reason
from kiosk.checkin.proctor import OverrideReason
from kiosk.ui.i18n import LANGUAGES, Translator, load_catalogue
from kiosk.vision.liveness import PROMPTS as LIVENESS_PROMPTS
from kiosk.vision.quality import REASON_PRIORITY

CATALOGUES = {lang: load_catalogue(lang) for lang in LANGUAGES}
PLACEHOLDER = re.compile(r"\{(\w+)")
KAZAKH_LETTERS = set("әғқңөұүһі")


def test_every_language_has_the_same_keys() -> None:
    en = set(CATALOGUES["en"])
    for lang in ("ru", "kk"):
        assert set(CATALOGUES[lang]) == en, lang


@pytest.mark.parametrize(
    "key",
    [f"reason.{code}" for code in REASON_PRIORITY]
    + [f"liveness.{code}" for code in LIVENESS_PROMPTS]
    + [f"decision.{r.value}" for r in Reason]
    + [f"override_reason.{r.value}" for r in OverrideReason],
)
def test_core_codes_are_translated(key: str) -> None:
    for lang, cat in CATALOGUES.items():
        assert cat.get(key, "").strip(), f"{lang} lacks {key}"


def test_placeholders_match_across_languages() -> None:
    for key, text in CATALOGUES["en"].items():
        expected = set(PLACEHOLDER.findall(text))
        for lang in ("ru", "kk"):
            assert set(PLACEHOLDER.findall(CATALOGUES[lang][key])) == expected, (lang, key)


def test_translations_are_written_in_their_language() -> None:
    """Not English copied over: Russian is Cyrillic, Kazakh uses its own letters."""
    for key, en in CATALOGUES["en"].items():
        if not re.search(r"[A-Za-z]{3}", PLACEHOLDER.sub("", en)) or key.startswith(
            "selftest.pass"
        ):
            continue
        for lang in ("ru", "kk"):
            text = PLACEHOLDER.sub("", CATALOGUES[lang][key])
            assert re.search(r"[А-Яа-яЁёӘәҒғҚқҢңӨөҰұҮүҺһІі]", text), (lang, key)
    kk_text = " ".join(CATALOGUES["kk"].values()).lower()
    assert len(KAZAKH_LETTERS & set(kk_text)) >= 7


def test_translator_formats_falls_back_and_notifies() -> None:
    tr = Translator("kk")
    changes: list[str] = []
    tr.on_change(changes.append)
    assert tr.t("result.accepted.title", name="Айгерім") == "Қош келдіңіз, Айгерім"
    assert tr.t("no.such.key") == "no.such.key"
    assert tr.t("countdown") == "{seconds} с қалды"  # a missing value stays visible
    assert tr.t_opt("decision", "brand_new_code") == "brand new code"
    assert tr.t_opt("decision", None) == ""
    tr.set_language("xx")
    assert tr.language == "kk" and changes == []
    tr.set_language("ru")
    assert changes == ["ru"] and tr.t("reason.move_closer") == "Подойдите ближе"
