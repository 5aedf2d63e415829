"""The kiosk's PySide6 front end: applicant screen, proctor panel, calibration mode.

Qt lives only in this package (an import-linter contract checks it). Nothing here
decides anything: widgets show `CheckinFlow` state and send it claims, frames and proctor
actions. This ``__init__`` imports no Qt so the Qt-free helpers (`i18n`, `driver`) can be
used by the headless demo on a machine without a display.
"""
