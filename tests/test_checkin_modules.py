"""The check-in package after its split (IIN and the wire roster in `kiosk.protocol`,
roster store, QR reader, recorder): the IIN names re-exported by the roster are the moved
objects, and every module imports on its own, in any order (roster_store imports roster,
never the other way round)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kiosk.checkin import roster
from kiosk.protocol import iin


def test_roster_iin_names_are_the_moved_objects_and_no_store_cycle_is_left() -> None:
    for name in ("validate_iin", "mask_iin", "make_iin", "iin_check_digit"):
        assert getattr(roster, name) is getattr(iin, name)
    assert "validate_iin" in roster.__all__
    assert not hasattr(roster, "RosterStore")


@pytest.mark.parametrize(
    "statement",
    [
        "import kiosk.checkin.roster_store",
        "from kiosk.checkin.roster_store import RosterStore",
        "from kiosk.checkin.roster import *; Roster",
        "import kiosk.protocol.iin",
        "import kiosk.checkin.recorder",
        "import kiosk.checkin.qr",
        "from kiosk.checkin.flow import CheckinFlow, FailClosedLiveness, FlowState, StateName",
    ],
)
def test_each_module_imports_first_in_a_fresh_interpreter(statement: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", statement], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def test_iin_validation_is_unchanged_by_the_move() -> None:
    from datetime import date

    from kiosk.errors import RosterError

    valid = iin.make_iin(date(2004, 1, 10), 5, 200)
    iin.validate_iin(valid)
    assert iin.mask_iin(valid) == "********" + valid[-4:]
    broken = valid[:11] + str((int(valid[11]) + 1) % 10)
    with pytest.raises(RosterError, match="checksum"):
        iin.validate_iin(broken)
