"""Technician calibration mode (`kiosk calibrate`): what the engine sees, how fast, on
which execution provider, and whether the kiosk passes its self-test.

Overlays are drawn on the very frame that was analysed (not the newest camera frame),
so boxes and landmarks line up even when the engine is slower than the camera. The
similarity figure compares the primary face with a chosen template: a tuning aid that
decides nothing (thresholds come from the calibration file).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPen, QTransform
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kiosk.app.calibration_ledger import OpenLedger, ledger_on_first_use
from kiosk.app.driver import DoorDriver, FrameResult
from kiosk.app.selftest import CheckResult, check_running_camera, run_self_test
from kiosk.camera import LatestFrameGrabber
from kiosk.config import KioskConfig
from kiosk.errors import KioskError
from kiosk.ui.calibration_set_panel import CalibrationSetPanel
from kiosk.ui.i18n import Translator
from kiosk.ui.theme import ADJUST, BAD, GOOD, STYLESHEET
from kiosk.ui.video_view import VideoView
from kiosk.ui.worker import AnalysisWorker
from kiosk.vision.pipeline import FaceEngine, FaceObservation

log = logging.getLogger(__name__)

STAGES = ("detect", "align", "quality", "embed", "total")


class CalibrationWindow(QMainWindow):
    self_test_done = Signal(list)

    def __init__(
        self,
        engine: FaceEngine,
        grabber: LatestFrameGrabber,
        cfg: KioskConfig,
        tr: Translator | None = None,
        *,
        open_ledger: OpenLedger | None = None,
        keep_images: bool = False,
        config_file: Path | None = None,
    ) -> None:
        super().__init__()
        self.engine, self.grabber, self.cfg = engine, grabber, cfg
        self.tr_ = tr or Translator(cfg.ui.language)
        self.setStyleSheet(STYLESHEET + "QWidget { font-size: 16px; }")
        self.template: np.ndarray | None = None
        self.threshold = calibrated_threshold(cfg, engine)
        self.template_name = ""
        self.last: FrameResult | None = None
        self._analysed_at: deque[float] = deque(maxlen=30)
        self._stage_ms: dict[str, deque[float]] = {s: deque(maxlen=30) for s in STAGES}

        self.video = VideoView(show_guide=False)
        self.video.overlay = self._draw_overlay
        self.title = QLabel(objectName="title")
        self.provider = QLabel()
        self.fps = QLabel(objectName="fps")
        self.faces = QLabel()
        self.pose = QLabel()
        self.quality = QLabel()
        self.similarity = QLabel(objectName="similarity")
        self.latency_title = QLabel()
        self.latency = QTableWidget(len(STAGES), 2, objectName="latency")
        self.latency.verticalHeader().setVisible(False)
        self.latency.horizontalHeader().setVisible(False)
        for row, _stage in enumerate(STAGES):
            self.latency.setItem(row, 0, QTableWidgetItem())
            self.latency.setItem(row, 1, QTableWidgetItem("-"))
        self.measures = QTableWidget(0, 3, objectName="measures")
        self.measures.verticalHeader().setVisible(False)
        for table in (self.latency, self.measures):
            table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.measures.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.ResizeToContents
        )
        self.template_btn = QPushButton(clicked=self._choose_template)
        self.current_btn = QPushButton(clicked=self.use_current_face)
        self.selftest_btn = QPushButton(objectName="self_test", clicked=self.run_self_test)
        self.selftest = QLabel(objectName="self_test_results", wordWrap=True)
        self.selftest.setTextFormat(Qt.TextFormat.RichText)

        side = QVBoxLayout()
        for w in (
            self.title,
            self.provider,
            self.fps,
            self.faces,
            self.pose,
            self.quality,
            self.similarity,
        ):
            side.addWidget(w)
        buttons = QHBoxLayout()
        buttons.addWidget(self.template_btn)
        buttons.addWidget(self.current_btn)
        side.addLayout(buttons)
        side.addWidget(self.latency_title)
        side.addWidget(self.latency)
        side.addWidget(self.measures, 1)
        side.addWidget(self.selftest_btn)
        side.addWidget(self.selftest)
        self.set_panel = CalibrationSetPanel(
            cfg,
            engine.pack_id,
            grabber,
            self.tr_,
            open_ledger=open_ledger,
            keep_images=keep_images,
            config_file=config_file,
            bundled_threshold=_bundled_threshold(engine),
        )
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.addWidget(self.video, 3)
        panel = QWidget()
        panel.setLayout(side)
        layout.addWidget(panel, 2)
        layout.addWidget(self.set_panel, 2)
        self.setCentralWidget(central)

        self.worker = AnalysisWorker(grabber, DoorDriver(engine))
        self.worker.analyzed.connect(self.show_result)
        self.self_test_done.connect(self._show_self_test)
        self.status_timer = QTimer(self, interval=500, timeout=self._refresh_rates)
        self.tr_.on_change(lambda _lang: self.retranslate())
        self.retranslate()

    @classmethod
    def from_config(
        cls,
        cfg: KioskConfig,
        *,
        template: str | None = None,
        keep_images: bool = False,
        config_file: Path | None = None,
    ) -> CalibrationWindow:
        from kiosk.app.door import camera_source

        engine = FaceEngine.from_config(cfg)
        window = cls(
            engine,
            LatestFrameGrabber(camera_source(cfg, loop=True)),
            cfg,
            open_ledger=ledger_on_first_use(cfg),
            keep_images=keep_images,
            config_file=config_file,
        )
        if template:
            window.set_template_from_photo(template)
        return window

    # --- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        self.grabber.start()
        self.worker.start()
        self.status_timer.start()

    def shutdown(self) -> None:
        self.status_timer.stop()
        self.worker.stop()
        self.grabber.stop()

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)

    # --- template --------------------------------------------------------------------
    def set_template_from_photo(self, path: str) -> bool:
        try:
            obs = self.engine.embed_photo(path)
        except KioskError as exc:
            log.warning("template photo refused: %s", exc)
            self.similarity.setText(str(exc))
            return False
        self.template, self.template_name = obs.embedding, path.rsplit("/", 1)[-1]
        self.retranslate()
        return True

    def use_current_face(self) -> bool:
        face = self.last.analysis.primary if self.last else None
        if face is None or face.embedding is None:
            return False
        self.template, self.template_name = face.embedding.copy(), f"frame {self.last.seq}"
        self.retranslate()
        return True

    def _choose_template(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.tr_.t("calibration.choose_template"))
        if path:
            self.set_template_from_photo(path)

    def similarity_to_template(self, face: FaceObservation | None) -> float | None:
        if self.template is None or face is None or face.embedding is None:
            return None
        return float(np.dot(face.embedding, self.template))

    # --- self-test -------------------------------------------------------------------
    def run_self_test(self) -> list[CheckResult]:
        """Runs on the UI thread: a few hundred ms (model hashes dominate), and the
        technician pressed a button to wait for exactly this. The camera check reads the
        grabber's state instead of opening the device a second time."""
        results = run_self_test(self.cfg, camera_check=lambda: check_running_camera(self.grabber))
        self.self_test_done.emit(results)
        return results

    def _show_self_test(self, results: list[CheckResult]) -> None:
        t = self.tr_.t
        colour = {"pass": GOOD, "fail": BAD, "skip": ADJUST}
        rows = [
            f'<span style="color:{colour[r.status]}"><b>{t("selftest." + r.status)}</b></span> '
            f"{t('selftest.' + r.name)}: {r.detail}"
            for r in results
        ]
        self.selftest.setText("<br>".join(rows))

    # --- per frame -------------------------------------------------------------------
    def show_result(self, result: FrameResult) -> None:
        self.last = result
        self._analysed_at.append(time.monotonic())
        for stage in STAGES:
            self._stage_ms[stage].append(result.timings_ms.get(stage, 0.0))
        self.video.set_frame(result.frame)
        self.set_panel.on_result(result)
        self.retranslate()

    def _refresh_rates(self) -> None:
        times = self._analysed_at
        analysis = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
        if times and time.monotonic() - times[-1] > 2:
            analysis = 0.0
        self.fps.setText(self.tr_.t("calibration.fps", camera=self.grabber.fps, analysis=analysis))
        for row, stage in enumerate(STAGES):
            values = sorted(self._stage_ms[stage])
            text = f"{values[len(values) // 2]:.1f}" if values else "-"
            self.latency.item(row, 1).setText(text)

    def _draw_overlay(self, p: QPainter, t: QTransform) -> None:
        if self.last is None:
            return
        scale = max(t.m11(), 1e-6)
        for i, face in enumerate(self.last.analysis.faces):
            colour = QColor(GOOD if face.quality.ok else ADJUST if i == 0 else BAD)
            p.setPen(QPen(colour, 3 / scale))
            x1, y1, x2, y2 = (float(v) for v in face.box)
            p.drawRect(QRectF(x1, y1, x2 - x1, y2 - y1))
            p.setBrush(colour)
            for x, y in face.landmarks:
                p.drawEllipse(QPointF(float(x), float(y)), 3 / scale, 3 / scale)
            p.setBrush(Qt.BrushStyle.NoBrush)
            font = p.font()
            font.setPixelSize(max(8, int(16 / scale)))
            p.setFont(font)
            label = self.tr_.t(
                "calibration.overlay", det=face.det_score, quality=face.quality.score
            )
            sim = self.similarity_to_template(face)
            if sim is not None:
                label += "; " + self.tr_.t(
                    "calibration.overlay_similarity", score=sim, threshold=self._threshold_text()
                )
            p.drawText(QPointF(x1, y1 - 4 / scale), label)

    def retranslate(self) -> None:
        t = self.tr_.t
        self.setWindowTitle(t("calibration.title"))
        self.title.setText(t("calibration.title"))
        self.provider.setText(t("calibration.provider", provider=self.engine.provider))
        self.latency_title.setText(t("calibration.latency"))
        self.template_btn.setText(t("calibration.choose_template"))
        self.current_btn.setText(t("calibration.use_current"))
        self.selftest_btn.setText(t("calibration.self_test"))
        self.measures.setHorizontalHeaderLabels(
            [t("calibration.col_measure"), t("calibration.col_raw"), t("calibration.col_score")]
        )
        for row, stage in enumerate(STAGES):
            self.latency.item(row, 0).setText(t(f"calibration.stage.{stage}"))
        self.set_panel.retranslate()
        faces = self.last.analysis.faces if self.last else []
        self.faces.setText(t("calibration.faces", count=len(faces)))
        face = faces[0] if faces else None
        if face is None:
            self.pose.setText("")
            self.quality.setText("")
            self.measures.setRowCount(0)
        else:
            pose = face.quality.pose
            self.pose.setText(t("calibration.pose", yaw=pose.yaw, pitch=pose.pitch, roll=pose.roll))
            prompt = self.tr_.t_opt("reason", face.quality.prompt)
            self.quality.setText(
                t("calibration.quality", score=face.quality.score)
                + (f": {prompt}" if prompt else "")
            )
            self.measures.setRowCount(len(face.quality.measures))
            for row, m in enumerate(face.quality.measures):
                name = self.tr_.t_opt("measure", m.name)
                for col, text in enumerate((name, f"{m.raw:.3g}", f"{m.score:.0f}")):
                    item = QTableWidgetItem(text)
                    if not m.ok:
                        item.setForeground(QColor(ADJUST))
                    self.measures.setItem(row, col, item)
        fit_rows(self.measures)
        fit_rows(self.latency)
        sim = self.similarity_to_template(face)
        if self.template is None:
            self.similarity.setText(t("calibration.no_template"))
        else:
            text = t("calibration.template", name=self.template_name)
            if sim is not None:
                text += "  " + t(
                    "calibration.similarity", score=sim, threshold=self._threshold_text()
                )
            self.similarity.setText(text)

    def _threshold_text(self) -> str:
        if self.threshold is None:
            return self.tr_.t("calibration.no_threshold")
        return f"{self.threshold:.3f}"


def calibrated_threshold(cfg: KioskConfig, engine: FaceEngine) -> float | None:
    """The match threshold in force for this pack, shown beside every similarity so a
    number is never read without the line it is judged against; None if uncalibrated."""
    from kiosk.checkin.matcher import find_calibration

    try:
        return float(find_calibration(cfg, engine.pack).threshold)
    except KioskError as exc:
        log.info("calibration window without a threshold: %s", exc)
        return None


def fit_rows(table: QTableWidget) -> None:
    """Make the table tall enough for every row: a stretched layout otherwise clips the
    last rows (HeadPosePitch was cut in half on a 900 px screen)."""
    height = table.horizontalHeader().height() if table.horizontalHeader().isVisible() else 0
    height += sum(table.rowHeight(r) for r in range(table.rowCount())) + 2 * table.frameWidth()
    table.setMinimumHeight(height)


def _bundled_threshold(engine: FaceEngine) -> float | None:
    """The model pack's own threshold: the floor a site calibration is raised to."""
    from kiosk.checkin.matcher import Calibration

    path = engine.pack.calibration_path
    return Calibration.load(path).threshold if path is not None and path.is_file() else None
