"""One high-contrast stylesheet: large type readable from a metre away, white on near-black,
and colours that carry meaning (green admitted, amber adjust, red refused) but are never
the only cue: every state also has words."""

from __future__ import annotations

GOOD = "#2ecc71"
ADJUST = "#f5b700"
BAD = "#ff4d4d"
NEUTRAL = "#ffffff"
BACKGROUND = "#0b0d12"

STYLESHEET = f"""
QWidget {{ background: {BACKGROUND}; color: #ffffff; font-size: 22px; }}
QLabel#title {{ font-size: 44px; font-weight: 700; }}
QLabel#prompt {{ font-size: 36px; font-weight: 600; color: {ADJUST}; }}
QLabel#prompt[good="true"] {{ color: {GOOD}; }}
QLabel#detail {{ font-size: 28px; }}
QLabel#banner {{ background: #30343f; color: #ffffff; font-size: 18px; padding: 4px; }}
QLabel#result_title {{ font-size: 52px; font-weight: 800; }}
QWidget#result QLabel {{ background: transparent; }}
QWidget#result[tone="good"] {{ background: #0f3d22; }}
QWidget#result[tone="bad"] {{ background: #4a1010; }}
QWidget#result[tone="warn"] {{ background: #4a3a00; }}
QPushButton {{ background: #1f6feb; color: #ffffff; border: 2px solid #ffffff;
              border-radius: 10px; padding: 14px 22px; font-size: 26px; font-weight: 600; }}
QPushButton:pressed {{ background: #0b3d91; }}
QPushButton:disabled {{ background: #3a3f4b; color: #aaaaaa; border-color: #777777; }}
QPushButton[lang="true"] {{ background: #30343f; font-size: 22px; padding: 8px 16px; }}
QPushButton[lang="true"]:checked {{ background: #ffffff; color: {BACKGROUND}; }}
QPushButton[key="true"] {{ font-size: 34px; min-width: 80px; min-height: 64px; }}
QLineEdit {{ background: #ffffff; color: #000000; font-size: 36px; padding: 8px;
            border-radius: 8px; }}
QTableWidget {{ background: #151922; gridline-color: #444; font-size: 20px; }}
QHeaderView::section {{ background: #30343f; color: #ffffff; font-size: 20px; padding: 4px; }}
QWidget#proctor_panel QPushButton {{ font-size: 18px; padding: 8px 12px; }}
QWidget#proctor_panel QLineEdit {{ font-size: 20px; }}
QComboBox, QPlainTextEdit {{ background: #ffffff; color: #000000; font-size: 22px; }}
"""
