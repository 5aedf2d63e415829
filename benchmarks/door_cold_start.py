"""Door cold start to live view, in a fresh process: Qt (offscreen when there is no
display), the face engine from the config (pack verified, sessions from the optimised-
graph cache when warm), the camera's first frame analysed by the door driver and painted
in the live view. Prints `live` when the picture is on screen; `kiosk bench` times the
process from its start to that line.

Not included: unsealing the device keys and opening the ledger and roster stores, which
a production door also does before its first check-in (not before its live view).

    python benchmarks/door_cold_start.py IMAGE_FOLDER
"""

import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main(folder: str) -> int:
    from PySide6.QtWidgets import QApplication

    from kiosk.app.driver import DoorDriver
    from kiosk.camera import GrabbedFrame, ImageFolderSource
    from kiosk.config import load_config
    from kiosk.ui.video_view import VideoView
    from kiosk.vision.pipeline import FaceEngine

    app = QApplication([])
    view = VideoView()
    view.resize(640, 480)
    view.show()
    engine = FaceEngine.from_config(load_config())
    source = ImageFolderSource(folder)
    source.open()
    image = source.read()
    if image is None:
        print(f"no image in {folder}")
        return 2
    result = DoorDriver(engine).process(GrabbedFrame(image, 1, time.monotonic()))
    view.set_frame(result.frame)
    view.repaint()
    app.processEvents()
    print("live", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
