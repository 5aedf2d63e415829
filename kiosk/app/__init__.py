"""The Qt-free composition root: assembles a door from the config (`door`), drives it
frame by frame (`driver`), words its state for the proctor panel (`door_status`) and
checks the kiosk is fit to run (`selftest`).

The window (`kiosk.ui`), the CLI and the demo all take their door from here, so what runs
without a screen is exactly what the window shows. Never imports `kiosk.ui` or Qt (an
import-linter contract checks it).
"""
