"""Tooling around the face pipeline, never imported by the door: `kiosk eval` metrics,
`kiosk bench`, liveness attack sets and their rendered heads, calibration sets, model
conversion. Kept out of `kiosk.vision` so the runtime import graph stays small
(tests/test_architecture.py checks that the door loads none of it)."""
