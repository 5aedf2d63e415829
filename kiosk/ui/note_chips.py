"""Ready note sentences as buttons, for a kiosk without a keyboard.

A proctor's override and manual door unlock both need a written note, and the door has
only a touch screen: each button ("chip") adds one catalogue sentence, in the panel's
language, to the note field; a last chip clears it. A USB keyboard can still type
anything in the field. The catalogue holds `<prefix>.<key>` (the sentence) and
`<prefix>.<key>.chip` (the short button text) for each key.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLineEdit, QPlainTextEdit, QPushButton

from kiosk.ui.i18n import Translator

NoteField = QLineEdit | QPlainTextEdit


def note_text(field: NoteField) -> str:
    return field.toPlainText() if isinstance(field, QPlainTextEdit) else field.text()


class NoteChips(QGridLayout):
    """Chips in `columns` columns that add their sentence to `field`, then a Clear chip.

    A layout rather than a widget of its own: one widget level less between a chip and
    the panel, so a new language's wider chips reach the panel's columns in one layout
    pass (a wrapping widget left the override chips cut for a pass after a switch)."""

    def __init__(
        self,
        tr: Translator,
        prefix: str,
        keys: tuple[str, ...],
        field: NoteField,
        *,
        columns: int = 2,
    ) -> None:
        super().__init__()
        self.tr_ = tr
        self.prefix = prefix
        self.field = field
        self.buttons: dict[str, QPushButton] = {}
        for i, key in enumerate(keys):
            b = self._chip(lambda _=False, key=key: self.add(key))
            self.buttons[key] = b
            self.addWidget(b, i // columns, i % columns)
        self.clear_btn = self._chip(lambda _=False: field.clear())
        self.addWidget(self.clear_btn, len(keys) // columns, len(keys) % columns)
        tr.on_change(lambda _lang: self.retranslate())
        self.retranslate()

    @staticmethod
    def _chip(on_tap: Callable[..., object]) -> QPushButton:
        b = QPushButton(clicked=on_tap)
        b.setProperty("chip", True)
        # A tap must not move the focus away from the field a keyboard may be typing in.
        b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        return b

    def add(self, key: str) -> None:
        """Append the sentence for `key`, in the panel's language, after what is there."""
        sentence = self.tr_.t(f"{self.prefix}.{key}")
        current = note_text(self.field).strip()
        text = f"{current} {sentence}".strip()
        if isinstance(self.field, QPlainTextEdit):
            self.field.setPlainText(text)
        else:
            self.field.setText(text)

    def retranslate(self) -> None:
        t = self.tr_.t
        self.clear_btn.setText(t("common.clear"))
        for key, b in self.buttons.items():
            b.setText(t(f"{self.prefix}.{key}.chip"))
