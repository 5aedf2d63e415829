"""On-screen keypad: the kiosk has no keyboard, and big keys work for gloved or shaky hands.

One widget for everything typed at the door: an applicant's IIN or booking code, and a
proctor's ID and PIN. What each kind allows (`KeypadKind`): digits only for an IIN and a
PIN, letters for codes and IDs, a length, and how the display hides what is typed.

An IIN is checked as it is typed: 12 digits and its check digit (`kiosk.protocol.iin`)
before any lookup, so "12345" or a slip of one digit is an inline "check the number",
not a signed refusal that sends a person to the proctor. The display masks an IIN but
the last four digits, and a PIN whole: the queue behind can read the screen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from kiosk.errors import RosterError
from kiosk.protocol.iin import mask_iin, validate_iin
from kiosk.ui.i18n import Translator

CODE_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # all of them: the demo's own codes have an O
ID_LETTERS = "abcdefghijklmnopqrstuvwxyz.-"  # proctor ids are lower-case words or numbers


@dataclass(frozen=True)
class KeypadKind:
    name: str  # "iin" | "booking_code" | "proctor_id" | "pin"
    letters: str
    max_len: int
    exact_len: int | None = None  # submit only at this length (shown as a counter)
    mask: str = "none"  # "none" | "iin" (all but the last 4) | "all"


KINDS = {
    k.name: k
    for k in (
        KeypadKind("iin", "", 12, exact_len=12, mask="iin"),
        KeypadKind("booking_code", CODE_LETTERS, 16),
        KeypadKind("proctor_id", ID_LETTERS, 32),
        KeypadKind("pin", "", 12, mask="all"),
    )
}
_LETTER_COLUMNS = 7


def shown_text(kind: KeypadKind, text: str) -> str:
    """What the display shows for `text`: masked, and an IIN in two groups of six."""
    if kind.mask == "all":
        return "•" * len(text)
    if kind.mask == "iin":
        masked = mask_iin(text).replace("*", "•")
        return f"{masked[:6]} {masked[6:]}".strip()
    return text


class Keypad(QWidget):
    submitted = Signal(str, str)  # kind name, text
    cancelled = Signal()

    def __init__(
        self, tr: Translator, parent: QWidget | None = None, *, kinds: tuple[str, ...] = ()
    ) -> None:
        super().__init__(parent)
        self.tr_ = tr
        self.kind = KINDS["booking_code"]
        self._text = ""
        # The pad itself takes a USB keyboard's keys (its buttons never take the focus).
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.title = QLabel(objectName="detail", alignment=Qt.AlignmentFlag.AlignCenter)
        self.title.setWordWrap(True)
        self.display = QLineEdit(readOnly=True, alignment=Qt.AlignmentFlag.AlignCenter)
        self.display.setObjectName("keypad_display")
        self.display.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.counter = QLabel(objectName="keypad_counter", alignment=Qt.AlignmentFlag.AlignCenter)
        self.error = QLabel(objectName="keypad_error", alignment=Qt.AlignmentFlag.AlignCenter)
        self.error.setWordWrap(True)
        self.keys: dict[str, QPushButton] = {}
        grid = QGridLayout()
        for i, ch in enumerate("123456789"):
            grid.addWidget(self._key(ch), i // 3, i % 3)
        self.clear_btn = self._button(self.clear)
        self.back_btn = self._button(self.backspace, "⌫")
        self.back_btn.setProperty("key", True)
        grid.addWidget(self.clear_btn, 3, 0)
        grid.addWidget(self._key("0"), 3, 1)
        grid.addWidget(self.back_btn, 3, 2)
        # Letters only for the kinds that have them, laid out once per alphabet.
        self.letter_pads: dict[str, QWidget] = {}
        alphabets = {KINDS[k].letters for k in (kinds or tuple(KINDS)) if KINDS[k].letters}
        keys = QHBoxLayout()
        keys.addLayout(grid)
        for alphabet in sorted(alphabets):
            pad = QWidget()
            letters = QGridLayout(pad)
            letters.setContentsMargins(0, 0, 0, 0)
            for i, ch in enumerate(alphabet):
                letters.addWidget(self._key(ch), i // _LETTER_COLUMNS, i % _LETTER_COLUMNS)
            self.letter_pads[alphabet] = pad
            keys.addWidget(pad)
        self.submit_btn = self._button(self._submit)
        self.submit_btn.setObjectName("keypad_submit")
        self.cancel_btn = self._button(self._cancel)
        self.cancel_btn.setProperty("quiet", True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel_btn)
        buttons.addWidget(self.submit_btn)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.display)
        row = QHBoxLayout()
        row.addWidget(self.counter, 1)
        row.addWidget(self.error, 3)
        layout.addLayout(row)
        layout.addLayout(keys)
        layout.addLayout(buttons)
        self._submit_key = "keypad.submit"
        tr.on_change(lambda _lang: self.retranslate())
        self.start("booking_code")

    def _button(self, slot: Callable[[], None], text: str = "") -> QPushButton:
        b = QPushButton(text, clicked=slot)
        b.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # a tap must not steal focus
        b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        return b

    def _key(self, ch: str) -> QPushButton:
        b = self._button(lambda: self.type_text(ch), ch)
        b.setProperty("key", True)
        self.keys[ch] = b
        return b

    # --- typing ----------------------------------------------------------------------
    @property
    def text(self) -> str:
        """What was typed (unmasked); the display shows `shown_text` of it."""
        return self._text

    def type_text(self, text: str) -> None:
        """Append characters as if tapped (also what a USB keyboard and tests use)."""
        for ch in text:
            if len(self._text) >= self.kind.max_len:
                break
            if ch.isdigit() or (self.kind.letters and ch in self.kind.letters):
                self._text += ch
            elif self.kind.letters and ch.upper() in self.kind.letters:
                self._text += ch.upper()
            elif self.kind.letters and ch.lower() in self.kind.letters:
                self._text += ch.lower()
        self._changed()

    def backspace(self) -> None:
        self._text = self._text[:-1]
        self._changed()

    def clear(self) -> None:
        self._text = ""
        self._changed()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._submit()
        elif event.key() == Qt.Key.Key_Backspace:
            self.backspace()
        elif event.text():
            self.type_text(event.text())
        else:
            super().keyPressEvent(event)

    def start(self, kind: str, submit_key: str = "keypad.submit") -> None:
        """Show an empty pad for `kind`; `submit_key` names the submit button's text."""
        self.kind = KINDS[kind]
        self._submit_key = submit_key
        self._text = ""
        for alphabet, pad in self.letter_pads.items():
            pad.setVisible(alphabet == self.kind.letters)
        self._changed()
        self.retranslate()
        self.setFocus()

    def _changed(self) -> None:
        self.display.setText(shown_text(self.kind, self._text))
        self.error.setText(self._problem() or "")
        self._update_counter()

    def _problem(self) -> str | None:
        """The inline message for what is typed, or None. An IIN is judged once complete:
        a half-typed number is not an error yet."""
        if self.kind.name == "iin" and len(self._text) == 12:
            try:
                validate_iin(self._text)
            except RosterError:
                return self.tr_.t("keypad.check_number")
        return None

    def _update_counter(self) -> None:
        need = self.kind.exact_len
        if need is None:
            self.counter.setText("")
        else:
            self.counter.setText(self.tr_.t("keypad.counter", count=len(self._text), total=need))
        complete = bool(self._text) and (need is None or len(self._text) == need)
        self.submit_btn.setEnabled(complete and self._problem() is None)

    def _submit(self) -> None:
        if not self.submit_btn.isEnabled():
            return
        text = self._text.strip()
        if text:
            self.submitted.emit(self.kind.name, text)

    def _cancel(self) -> None:
        self.clear()
        self.cancelled.emit()

    def retranslate(self) -> None:
        t = self.tr_.t
        self.title.setText(t(f"keypad.title.{self.kind.name}"))
        self.clear_btn.setText(t("common.clear"))
        self.submit_btn.setText(t(self._submit_key))
        self.cancel_btn.setText(t("common.cancel"))
        self.error.setText(self._problem() or "")
        self._update_counter()
