"""The calibration window's site-calibration panel: capture faces per person label,
evaluate, look at the ROC/DET plot and the chosen threshold, then confirm.

Only presentation and button wiring: capture rules, pairs, threshold, the file and its
signed record are all in `kiosk.evaluation.calibration_set`, so the same steps run without a
screen (and are tested there on real faces). Camera exposure and brightness are set
through `kiosk.camera.set_exposure` (a device only; a file source says so).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from kiosk.app.calibration_ledger import OpenLedger
from kiosk.app.driver import FrameResult
from kiosk.camera import LatestFrameGrabber, set_exposure
from kiosk.config import KioskConfig, default_config_path
from kiosk.errors import KioskError
from kiosk.evaluation.calibration_set import (
    CalibrationRun,
    CalibrationSet,
    Offer,
    check_label,
    default_calibration_path,
    new_set_folder,
)
from kiosk.evaluation.site_calibration import point_config_at
from kiosk.ui.i18n import Translator

log = logging.getLogger(__name__)


class CalibrationSetPanel(QGroupBox):
    """Capture → evaluate → confirm, plus the camera's exposure controls."""

    def __init__(
        self,
        cfg: KioskConfig,
        pack_id: str,
        grabber: LatestFrameGrabber,
        tr: Translator,
        *,
        open_ledger: OpenLedger | None = None,
        keep_images: bool = False,
        technician: str | None = None,
        config_file: Path | None = None,
        bundled_threshold: float | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.config_file = config_file or default_config_path()
        self.cfg, self.grabber, self.tr_ = cfg, grabber, tr
        self.bundled_threshold = bundled_threshold  # a site run never goes below it
        self.open_ledger, self.keep_images, self.technician = open_ledger, keep_images, technician
        self.set = CalibrationSet(pack_id)
        self.capturing: str | None = None  # the label being captured, if any
        self.run: CalibrationRun | None = None
        self.message = ""  # the last status sentence (already translated)

        self.label_edit = QLineEdit(objectName="person_label")
        self.per_person = QSpinBox(objectName="per_person", minimum=2, maximum=30, value=5)
        self.capture_btn = QPushButton(objectName="capture_faces", clicked=self.start_capture)
        self.people = QLabel(objectName="calibration_people", wordWrap=True)
        self.evaluate_btn = QPushButton(objectName="evaluate_set", clicked=self.evaluate)
        self.plot = QLabel(objectName="roc_det", alignment=Qt.AlignmentFlag.AlignCenter)
        self.plot.setMinimumHeight(160)
        self.result = QLabel(objectName="calibration_result", wordWrap=True)
        self.confirm_btn = QPushButton(objectName="confirm_calibration", clicked=self.confirm)
        self.status = QLabel(objectName="calibration_status", wordWrap=True)
        self.exposure = QDoubleSpinBox(objectName="exposure", minimum=-13, maximum=5000)
        self.exposure.setValue(-6)
        self.brightness = QDoubleSpinBox(objectName="brightness", minimum=0, maximum=255)
        self.brightness.setValue(128)
        self.apply_btn = QPushButton(objectName="apply_camera", clicked=self.apply_camera)
        self.camera_note = QLabel(objectName="camera_note", wordWrap=True)

        self.label_title, self.per_title = QLabel(), QLabel()
        self.exposure_title, self.brightness_title = QLabel(), QLabel()
        form = QFormLayout()
        form.addRow(self.label_title, self.label_edit)
        form.addRow(self.per_title, self.per_person)
        camera = QFormLayout()
        camera.addRow(self.exposure_title, self.exposure)
        camera.addRow(self.brightness_title, self.brightness)
        buttons = QHBoxLayout()
        for b in (self.capture_btn, self.evaluate_btn, self.confirm_btn):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.people)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.result)
        layout.addWidget(self.status)
        layout.addLayout(camera)
        layout.addWidget(self.apply_btn)
        layout.addWidget(self.camera_note)
        self.confirm_btn.setEnabled(False)
        self.retranslate()

    # --- capture ---------------------------------------------------------------------
    def start_capture(self) -> bool:
        """Collect the next good faces from the live analysis for the typed label."""
        try:
            label = check_label(self.label_edit.text())
        except KioskError as exc:
            self._say(self.tr_.t("calibration.failed", error=exc))
            return False
        self.set.per_person = self.per_person.value()
        self.capturing = label
        self._forget_run()
        self._say(self._progress(label, "calibration.capturing"))
        return True

    def on_result(self, result: FrameResult) -> Offer | None:
        """Offer one analysed frame to the set while capturing (the window calls this)."""
        label = self.capturing
        if label is None:
            return None
        frame = result.frame if self.keep_images else None
        outcome = self.set.offer_analysis(label, result.analysis, frame)
        if outcome is Offer.TAKEN or outcome is Offer.PERSON_COMPLETE:
            done = self.set.count(label) >= self.set.per_person
            if done:
                self.capturing = None
            key = "calibration.captured" if done else "calibration.capturing"
            self._say(self._progress(label, key))
            self.retranslate()
        return outcome

    def _progress(self, label: str, key: str) -> str:
        return self.tr_.t(key, label=label, count=self.set.count(label), total=self.set.per_person)

    # --- evaluate and confirm --------------------------------------------------------
    def evaluate(self) -> CalibrationRun | None:
        """All pairs of the captured set → plot and threshold (on the UI thread: a set
        of a few dozen faces scores in milliseconds; the plot takes well under a second)."""
        self.capturing = None
        try:
            run = self.set.evaluate(
                new_set_folder(self.cfg.data_dir),
                target_fmr=self.cfg.match.target_fmr,
                keep_images=self.keep_images,
                min_people=self.cfg.match.calibration_min_people,
                bundled_threshold=self.bundled_threshold,
            )
        except KioskError as exc:
            self._forget_run()
            self._say(self.tr_.t("calibration.failed", error=exc))
            return None
        self.run = run
        pixmap = QPixmap(str(run.plot_path))
        self.plot.setPixmap(
            pixmap.scaledToWidth(
                max(320, self.plot.width()), Qt.TransformationMode.SmoothTransformation
            )
        )
        # A run that cannot show its target is never confirmed; the result says why.
        self.confirm_btn.setEnabled(self.open_ledger is not None and run.demonstrable)
        self._say("")
        self.retranslate()
        return run

    def calibration_path(self) -> Path:
        configured = self.cfg.match.calibration_file
        return (
            Path(configured).expanduser()
            if configured
            else default_calibration_path(self.cfg.data_dir)
        )

    def confirm(self) -> Any:
        """The technician's yes: signed record first, then the calibration file."""
        if self.run is None or self.open_ledger is None:
            return None
        path = self.calibration_path()
        try:
            ledger = self.open_ledger()
            env = self.run.confirm(path, ledger, technician=self.technician)
        except KioskError as exc:
            log.warning("calibration not written: %s", exc)
            self._say(self.tr_.t("calibration.failed", error=exc))
            return None
        self.confirm_btn.setEnabled(False)
        seq = getattr(getattr(env, "record", None), "seq", "?")
        try:  # the door uses it from its next start; no hand edit of the config
            point_config_at(self.config_file, path)
            said = self.tr_.t("calibration.written", path=path, seq=seq, config=self.config_file)
        except (KioskError, OSError) as exc:
            log.warning("calibration written but the config not updated: %s", exc)
            said = self.tr_.t(
                "calibration.written_config_failed",
                path=path,
                seq=seq,
                config=self.config_file,
                error=exc,
            )
        self._say(said)
        return env

    # --- camera ----------------------------------------------------------------------
    def apply_camera(self) -> str:
        note = set_exposure(
            self.grabber.source,
            exposure=self.exposure.value(),
            brightness=self.brightness.value(),
        )
        self.camera_note.setText(note)
        return note

    # --- text ------------------------------------------------------------------------
    def _forget_run(self) -> None:
        self.run = None
        self.plot.clear()
        self.confirm_btn.setEnabled(False)

    def _say(self, text: str) -> None:
        self.message = text
        self.status.setText(text)

    def retranslate(self) -> None:
        t = self.tr_.t
        self.setTitle(t("calibration.set_title"))
        self.label_title.setText(t("calibration.person_label"))
        self.per_title.setText(t("calibration.per_person"))
        self.capture_btn.setText(t("calibration.capture"))
        self.evaluate_btn.setText(t("calibration.evaluate"))
        self.confirm_btn.setText(t("calibration.confirm"))
        self.exposure_title.setText(t("calibration.exposure"))
        self.brightness_title.setText(t("calibration.brightness"))
        self.apply_btn.setText(t("calibration.apply_camera"))
        counts = self.set.counts()
        self.people.setText(
            t(
                "calibration.people",
                summary=", ".join(f"{k} {n}" for k, n in counts.items()),
            )
            if counts
            else t("calibration.no_people")
        )
        run = self.run
        if run is None:
            self.result.setText("")
            return
        text = t(
            "calibration.result",
            threshold=run.threshold,
            fmr=run.target_fmr,
            fnmr=run.fnmr,
            eer=run.eer,
            genuine=run.summary["genuine_pairs"],
            impostor=run.summary["impostor_pairs"],
        )
        if not run.demonstrable:
            text += "\n" + t("calibration.not_demonstrable")
            text += "".join(f"\n• {reason}" for reason in run.refusals)
        self.result.setText(text)
