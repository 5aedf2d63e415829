"""One high-contrast stylesheet: large type readable from a metre away, white on near-black.

Result screens are read from the queue, about 3 m away: the action line ("Please go in")
is as large as the headline, and the three results differ in lightness (dark green,
bright amber, near-black red), icon and words, not in hue alone: for red-green colour
blindness the old three dark backgrounds were one dark olive. Every text colour here has
at least 4.5:1 contrast on its background (tests/test_ui_layout.py measures it).
"""

from __future__ import annotations

GOOD = "#2ecc71"
ADJUST = "#f5b700"
BAD = "#ff4d4d"
NEUTRAL = "#ffffff"
BACKGROUND = "#0b0d12"

# Result backgrounds and the text drawn on them.
TONE_BACKGROUND = {"good": "#0b6b2f", "warn": "#f5b700", "bad": "#4d0a0a"}
TONE_TEXT = {"good": "#ffffff", "warn": "#000000", "bad": "#ffffff"}
BUTTON = {"primary": "#1a5fd0", "quiet": "#30343f", "danger": "#b3261e"}
MUTED_TEXT = "#c8ccd4"

STYLESHEET = f"""
QWidget {{ background: {BACKGROUND}; color: #ffffff; font-size: 22px; }}
QLabel#title {{ font-size: 40px; font-weight: 700; }}
QLabel#title_alt {{ font-size: 30px; font-weight: 600; color: {MUTED_TEXT}; }}
QLabel#prompt {{ font-size: 34px; font-weight: 600; color: {ADJUST}; }}
QLabel#prompt[good="true"] {{ color: {GOOD}; }}
QLabel#detail, QLabel#countdown {{ font-size: 26px; }}
QLabel#banner {{ background: #30343f; color: #ffffff; font-size: 18px; padding: 4px; }}
QLabel#result_title, QLabel#result_action {{ font-size: 48px; font-weight: 800; }}
QLabel#result_detail {{ font-size: 34px; font-weight: 600; }}
QLabel#result_ref {{ font-size: 30px; font-weight: 700; }}
QLabel#keypad_counter {{ font-size: 24px; color: {MUTED_TEXT}; }}
QLabel#keypad_error {{ font-size: 26px; font-weight: 700; color: {ADJUST}; }}
QWidget#result QLabel {{ background: transparent; }}
QWidget#result[tone="good"] {{ background: {TONE_BACKGROUND["good"]}; }}
QWidget#result[tone="good"] QLabel {{ color: {TONE_TEXT["good"]}; }}
QWidget#result[tone="warn"] {{ background: {TONE_BACKGROUND["warn"]}; }}
QWidget#result[tone="warn"] QLabel {{ color: {TONE_TEXT["warn"]}; }}
QWidget#result[tone="bad"] {{ background: {TONE_BACKGROUND["bad"]}; }}
QWidget#result[tone="bad"] QLabel {{ color: {TONE_TEXT["bad"]}; }}
QWidget#proctor_corner {{ background: transparent; }}
QPushButton {{ background: {BUTTON["primary"]}; color: #ffffff; border: 2px solid #ffffff;
              border-radius: 10px; padding: 12px 20px; font-size: 26px; font-weight: 600; }}
QPushButton:pressed {{ background: #0b3d91; }}
QPushButton:disabled {{ background: #3a3f4b; color: #c8ccd4; border-color: #777777; }}
QPushButton[quiet="true"] {{ background: {BUTTON["quiet"]}; }}
QPushButton[danger="true"] {{ background: {BUTTON["danger"]}; }}
QPushButton[lang="true"] {{ background: {BUTTON["quiet"]}; font-size: 22px; padding: 8px 12px; }}
QPushButton[lang="true"]:checked {{ background: #ffffff; color: {BACKGROUND}; }}
QPushButton[key="true"] {{ font-size: 32px; min-width: 56px; min-height: 52px; padding: 4px; }}
QPushButton[chip="true"] {{ background: {BUTTON["quiet"]}; font-size: 18px; padding: 6px 10px; }}
QLineEdit {{ background: #ffffff; color: #000000; font-size: 34px; padding: 6px;
            border-radius: 8px; }}
QTableWidget {{ background: #151922; gridline-color: #444; font-size: 20px; }}
QHeaderView::section {{ background: #30343f; color: #ffffff; font-size: 20px; padding: 4px; }}
QWidget#proctor_panel QPushButton {{ font-size: 18px; padding: 8px 12px; }}
QWidget#proctor_panel QPushButton[key="true"] {{ font-size: 26px; min-width: 48px;
            min-height: 44px; padding: 2px; }}
QWidget#proctor_panel QLineEdit {{ font-size: 20px; }}
QWidget#proctor_panel QLabel#title {{ font-size: 32px; }}
QComboBox, QPlainTextEdit {{ background: #ffffff; color: #000000; font-size: 20px; }}
"""


def contrast(fg: str, bg: str) -> float:
    """WCAG 2 contrast ratio of two #rrggbb colours (1..21)."""

    def lum(hex_colour: str) -> float:
        channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((lum(fg), lum(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)
