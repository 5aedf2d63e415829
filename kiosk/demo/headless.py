"""`kiosk demo --headless`: the demo door run without a screen, on frame time.

Every demo frame goes through the same `DoorDriver` the window uses; each state change
and decision is printed with rich, then the demo proctor's signed override of the
refusal and a table of the decisions. The clock is `SimClock` (frame time), so the run is
fast and prints the same on any machine.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from kiosk.app.driver import DoorDriver
from kiosk.camera import GrabbedFrame
from kiosk.checkin.flow import FlowState, StateName
from kiosk.checkin.overrides import OverrideReason
from kiosk.config import KioskConfig
from kiosk.demo.door import (
    DEMO_FPS,
    DEMO_PROCTOR_ID,
    DEMO_PROCTOR_PIN,
    DemoDoor,
    SimClock,
    build_demo_door,
    override_for_demo,
)
from kiosk.ui.i18n import Translator  # Qt-free: the prompts are printed in the door's words
from kiosk.ui.result_texts import result_texts  # Qt-free: what the result screen says
from kiosk.vision.pipeline import FaceEngine


def replay(demo: DemoDoor, clock: SimClock, fps: float = DEMO_FPS) -> None:
    """Feed every demo frame through the same driver the window uses, on frame time,
    then let the last decision screen time out."""
    driver = DoorDriver(demo.door.engine, demo.flow)
    source = demo.camera
    source.open()
    seq = 0
    while (image := source.read()) is not None:
        seq += 1
        clock.advance(1.0 / fps)
        demo.flow.tick()
        driver.process(GrabbedFrame(image, seq, clock()))
    for _ in range(int(demo.flow.cfg.checkin.decision_display_s * fps) + 1):
        clock.advance(1.0 / fps)
        demo.flow.tick()


def run_headless(
    cfg: KioskConfig,
    console: Console,
    *,
    engine: FaceEngine | None = None,
    keep: Path | None = None,
    language: str = "en",
) -> int:
    """The demo without a screen: every state change and each decision printed, with the
    prompts and result texts the applicant would read in `language`, then the demo
    proctor's signed override of the refusal. `keep` keeps the data folder there."""
    from rich.table import Table

    clock = SimClock()
    demo = build_demo_door(cfg, engine=engine, clock=clock, data_dir=keep)
    tr = Translator(language)
    try:
        flow = demo.flow
        console.print(
            f"[bold]kiosk demo[/] (headless): room {flow.room}, "
            f"{len(flow.roster.applicants)} booked applicants, pack {demo.door.engine.pack_id}"
        )
        kept = "kept" if keep is not None else "temporary"
        console.print(f"demo data ({kept}, never your real ledger): {demo.data_dir}")
        console.print(
            f"demo proctor: id [bold]{DEMO_PROCTOR_ID}[/], PIN [bold]{DEMO_PROCTOR_PIN}[/]"
        )
        console.print(
            f"liveness: {flow.cfg.liveness.mode} (each person is a head rendered in 3D from "
            "one photo, answering the prompts)"
        )
        last: list[tuple[str, str | None]] = []

        def show(state: FlowState) -> None:
            key = (state.name.value, state.prompt)
            if last and last[-1] == key and state.name != StateName.DECISION:
                return
            last.append(key)
            line = f"[dim]{clock():6.1f}s[/] [cyan]{state.name.value:9}[/]"
            if state.reason is not None:
                line += f" reason={state.reason.value}"
            if state.applicant is not None:
                line += f" applicant={state.applicant.name}"
            if state.prompt:
                text = tr.t_opt(
                    "liveness" if state.name == StateName.LIVENESS else "reason", state.prompt
                )
                line += f' prompt={state.prompt} "{text}"'
            if state.name in (StateName.CAPTURE, StateName.LIVENESS):
                line += f" progress={state.progress:.0%}"
            console.print(line)
            if state.name == StateName.DECISION and state.decision is not None:
                d = state.decision
                score = "-" if d.score is None else f"{d.score:.3f}"
                words = result_texts(tr, state, room=flow.room)
                console.print(
                    f"          [bold]decision {d.decision.value}[/] ({d.reason.value}): "
                    f"score {score} vs threshold {d.threshold:.3f}, record {d.record_id}\n"
                    f'          screen: "{words.title}" / "{words.detail}" / "{words.action}"'
                )

        flow.subscribe(show)
        replay(demo, clock)
        final = list(demo.decisions)
        for decision in demo.decisions:
            admitted = override_for_demo(demo, decision)
            if admitted is not None:
                console.print(
                    f"[bold]proctor {DEMO_PROCTOR_ID}[/] overrides record {decision.record_id} "
                    f"({OverrideReason.DOCUMENT_CHECKED_MANUALLY.value}): "
                    f"{admitted.decision.value}"
                )
                final = [admitted if d is decision else d for d in final]
        table = Table(title="Demo decisions")
        for col in ("applicant", "decision", "reason", "score", "threshold"):
            table.add_column(col)
        names = {a.applicant_id: a.name for a in flow.roster.applicants}
        for d in final:
            table.add_row(
                names.get(d.applicant_id or "", d.applicant_id or "-"),
                d.decision.value,
                d.reason.value,
                "-" if d.score is None else f"{d.score:.3f}",
                f"{d.threshold:.3f}" if d.threshold is not None else "-",
            )
        console.print(table)
        counts = flow.ledger.counts()
        console.print(
            f"ledger: {sum(counts.values())} signed records "
            f"({counts.get('pending', 0)} pending sync; no centre in the demo)"
        )
        return 0 if final else 1
    finally:
        demo.close()
