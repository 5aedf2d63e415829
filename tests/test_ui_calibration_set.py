"""The technician's site calibration in the calibration window, offscreen: real widgets,
real engine and worker thread, a camera replaying real portraits of whoever the test
puts in front of it, evaluation, the plot, and a confirmed, signed calibration."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
from PySide6.QtCore import Qt

from kiosk.camera import ImageFolderSource, LatestFrameGrabber
from kiosk.config import load_config
from kiosk.ledger.keys import DeviceKeys
from kiosk.ledger.store import LedgerStore
from kiosk.ui.calibration import CalibrationWindow
from kiosk.ui.i18n import Translator

PAIRS = Path(__file__).resolve().parent / "data" / "pairs"
WAIT_MS = 30_000


class PeopleCamera(ImageFolderSource):
    """A looping camera showing the photos of one person at a time (`show`)."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder, fps=15, loop=True)
        with (folder / "identities.csv").open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        self.photos: dict[str, list] = {}
        for row in sorted(rows, key=lambda r: r["image"]):
            image = cv2.imread(str(folder / row["image"]))
            self.photos.setdefault(row["person"], []).append(image)
        self.person = "person08"

    def show(self, person: str) -> None:
        self.person = person
        self._frames, self._next = list(self.photos[person]), 0

    def open(self) -> None:
        self.show(self.person)


def test_capture_evaluate_and_confirm_a_site_calibration(qtbot, engine, tmp_path) -> None:
    cfg = load_config()
    camera = PeopleCamera(PAIRS)
    ledger = LedgerStore(tmp_path / "ledger.sqlite", DeviceKeys.load_or_create(tmp_path))
    window = CalibrationWindow(
        engine,
        LatestFrameGrabber(camera),
        cfg,
        Translator("en"),
        open_ledger=lambda: ledger,
    )
    qtbot.addWidget(window)
    window.resize(1800, 900)
    window.show()
    window.start()
    panel = window.set_panel
    try:
        assert panel.people.text() == "No faces captured yet"
        assert not panel.confirm_btn.isEnabled()
        panel.per_person.setValue(3)
        for person in ("person08", "person12", "person00"):
            label = "P" + person.removeprefix("person")
            camera.show(person)
            panel.label_edit.setText(label)
            qtbot.mouseClick(panel.capture_btn, Qt.MouseButton.LeftButton)
            assert panel.capturing == label
            qtbot.waitUntil(lambda label=label: panel.set.count(label) == 3, timeout=WAIT_MS)
            qtbot.waitUntil(lambda: panel.capturing is None, timeout=WAIT_MS)
            assert panel.status.text() == f"{label}: 3 of 3 captured"
        assert panel.people.text() == "People: P00 3, P08 3, P12 3"
        # A name instead of a pseudonymous label is refused before anything is captured.
        panel.label_edit.setText("Aruzhan Bekova")
        qtbot.mouseClick(panel.capture_btn, Qt.MouseButton.LeftButton)
        assert panel.capturing is None and panel.status.text().startswith("Not done:")

        qtbot.mouseClick(panel.evaluate_btn, Qt.MouseButton.LeftButton)
        run = panel.run
        assert run is not None and run.summary["genuine_pairs"] == 9
        assert run.summary["impostor_pairs"] == 27
        text = panel.result.text()
        assert text.startswith(f"Threshold {run.threshold:.4f} for FMR 0.001: FNMR ")
        assert "9 genuine, 27 impostor pairs" in text
        assert "Too few impostor pairs to show this FMR" in text  # 27 pairs cannot show 1e-3
        # The panel says why it cannot be confirmed, and does not let it be.
        assert "• 27 impostor pairs cannot show 1e-3: the rule of three needs at least 3000" in text
        assert "• 3 people cannot show it: impostor pairs must come from at least 20" in text
        assert not panel.plot.pixmap().isNull() and panel.plot.pixmap().width() >= 320
        assert not panel.confirm_btn.isEnabled()
        assert not (run.set_path.parent / "images").exists()  # embeddings only
        assert panel.confirm() is None  # even called directly, nothing is written or signed
        assert not (cfg.data_dir / "calibration" / "calibration.toml").exists()
        assert not [e for e in ledger.iter_envelopes() if e.record.type == "calibration"]

        qtbot.mouseClick(panel.apply_btn, Qt.MouseButton.LeftButton)
        assert "camera devices only" in panel.camera_note.text()
        window.tr_.set_language("kk")
        assert panel.evaluate_btn.text() == "Жинақты бағалау"
    finally:
        window.shutdown()
        ledger.close()
