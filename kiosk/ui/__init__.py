"""The kiosk's PySide6 front end: applicant screen, proctor panel, calibration mode.

Qt lives only in this package (an import-linter contract checks it). Nothing here
decides anything: widgets show `CheckinFlow` state and send it claims, frames and proctor
actions. Door assembly, the frame driver and the self-test are Qt-free and live in
`kiosk.app`; this ``__init__`` imports no Qt so `i18n` can also word the headless demo on
a machine without a display.
"""
