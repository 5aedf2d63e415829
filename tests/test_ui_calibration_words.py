"""The calibration window speaks the technician's language: translated headers, human
measure names, the threshold beside every similarity, and no clipped rows."""

from __future__ import annotations

from pathlib import Path

from kiosk.camera import ImageFolderSource, LatestFrameGrabber
from kiosk.config import load_config
from kiosk.ui.calibration import CalibrationWindow
from kiosk.ui.i18n import Translator

DATA = Path(__file__).resolve().parent / "data"
WAIT_MS = 30_000


def test_calibration_window_in_russian_with_threshold(qtbot, engine, tmp_path) -> None:
    camera = tmp_path / "cam"
    camera.mkdir()
    (camera / "0001.jpg").write_bytes((DATA / "img2.jpg").read_bytes())
    cfg = load_config()
    grabber = LatestFrameGrabber(ImageFolderSource(camera, fps=10, loop=True))
    window = CalibrationWindow(engine, grabber, cfg, Translator("ru"))
    qtbot.addWidget(window)
    window.resize(1800, 900)
    window.show()
    window.start()
    try:
        qtbot.waitUntil(lambda: window.measures.rowCount() >= 10, timeout=WAIT_MS)
        headers = [window.measures.horizontalHeaderItem(c).text() for c in range(3)]
        assert headers == ["Показатель", "Значение", "Оценка"]
        names = [window.measures.item(r, 0).text() for r in range(window.measures.rowCount())]
        assert "Наклон головы вверх/вниз" in names
        assert "HeadPosePitch" not in names and "InterEyeDistance" not in names
        assert window.latency.item(0, 0).text() == "Обнаружение"
        # Every row fits: the table is at least as tall as its rows.
        rows = sum(window.measures.rowHeight(r) for r in range(window.measures.rowCount()))
        assert window.measures.height() >= rows
        assert window.threshold is not None  # the bundled calibration
        assert window.set_template_from_photo(str(DATA / "img1.jpg"))
        qtbot.waitUntil(lambda: "порог совпадения" in window.similarity.text(), timeout=WAIT_MS)
        assert f"порог совпадения {window.threshold:.3f}" in window.similarity.text()
    finally:
        window.shutdown()
