"""`kiosk models list|verify|install|convert`: the model packs on this kiosk.

`verify` is what a technician runs after copying a kiosk image or when the engine
refuses to start: it names every file whose bytes no longer match the manifest.
`install` adds a user-supplied InsightFace pack (never shipped, non-commercial licence).
`convert` regenerates the default pack's float32 graphs from the vendored originals so a
reader can check the manifest's hashes instead of trusting them.
"""

from __future__ import annotations

import argparse
import logging
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk.commands.terminal import LazyConsole
from kiosk.config import KioskConfig, load_config
from kiosk.errors import ModelIntegrityError, ModelPackError

# The parser is built without rich or the pack code: each handler imports what it runs.
if TYPE_CHECKING:
    from kiosk.vision.packs import ModelPack

log = logging.getLogger(__name__)
console = LazyConsole(highlight=False)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list, verify, install or convert model packs")
    msub = p.add_subparsers(dest="models_command", required=True)

    ls = msub.add_parser("list", help="installed packs, their roles, files and licences")
    ls.set_defaults(handler=_list)

    verify = msub.add_parser("verify", help="hash every model file against its manifest")
    verify.add_argument("--all", action="store_true", help="every pack, not only the active one")
    verify.set_defaults(handler=_verify)

    install = msub.add_parser(
        "install", help="install an InsightFace pack (e.g. buffalo_l) from a local folder or zip"
    )
    install.add_argument("path", type=Path, help="folder or .zip holding the ONNX files")
    install.add_argument("--name", help="pack name for vision.pack (default: the file's stem)")
    install.add_argument("--replace", action="store_true", help="replace a pack of that name")
    install.set_defaults(handler=_install)

    convert = msub.add_parser(
        "convert", help="regenerate the default pack's float32 ONNX files from models/source"
    )
    convert.add_argument(
        "--out", type=Path, help="write here instead of over the bundled files (to compare)"
    )
    convert.add_argument("--role", choices=("detector", "recognizer"), help="only this model")
    convert.set_defaults(handler=_convert)


def _cfg(args: argparse.Namespace) -> KioskConfig:
    return load_config(args.config)


def _active_id(cfg: KioskConfig) -> str | None:
    from kiosk.vision.packs import resolve_pack

    try:
        return resolve_pack(cfg).pack_id
    except ModelPackError as exc:
        log.warning("active pack unavailable: %s", exc)
        return None


def _list(args: argparse.Namespace) -> int:
    from rich.table import Table

    from kiosk.vision.packs import list_packs, packs_dir

    cfg = _cfg(args)
    active = _active_id(cfg)
    table = Table(title="Model packs", caption=f"installed packs live in {packs_dir(cfg)}")
    for column in ("", "pack", "role", "kind", "file", "licence"):
        table.add_column(column, overflow="fold")
    for pack in list_packs(cfg):
        for i, spec in enumerate(pack.models):
            first = i == 0
            table.add_row(
                "*" if first and pack.pack_id == active else "",
                pack.pack_id if first else "",
                spec.role,
                spec.kind,
                spec.file,
                spec.licence,
                end_section=i == len(pack.models) - 1,
            )
    console.print(table)
    if active is None:
        console.print(f"[red]vision.pack = {cfg.vision.pack!r} is not installed[/red]")
        return 1
    console.print(f"* active (vision.pack = {cfg.vision.pack!r})")
    return 0


def _check_pack(pack: ModelPack) -> list[str]:
    """Print one line per file; return the files that are missing or altered."""
    from kiosk.vision.packs import sha256_file

    bad: list[str] = []
    console.print(f"pack {pack.pack_id} ({pack.root})")
    for spec in pack.models:
        checks = [(spec.file, spec.path, spec.sha256)]
        source = spec.extra.get("source_file")
        if source and (pack.root / source).is_file():  # originals are optional at run time
            checks.append((source, pack.root / source, spec.extra.get("source_sha256", "")))
        for label, path, expected in checks:
            if not path.is_file():
                console.print(f"  MISSING   {label}")
                bad.append(f"{pack.pack_id}/{label}")
                continue
            digest = sha256_file(path)
            ok = digest == expected
            if ok:
                console.print(f"  OK        {label}  sha256 {digest[:16]}…")
            else:
                console.print(
                    f"  MISMATCH  {label}  sha256 {digest[:16]}…, manifest {expected[:16]}…"
                )
                bad.append(f"{pack.pack_id}/{label}")
    return bad


def _verify(args: argparse.Namespace) -> int:
    from kiosk.vision.packs import list_packs, resolve_pack

    cfg = _cfg(args)
    packs = list_packs(cfg) if args.all else [resolve_pack(cfg)]
    bad = [name for pack in packs for name in _check_pack(pack)]
    if bad:
        raise ModelIntegrityError(
            f"{', '.join(bad)}: missing or modified (reinstall the pack, or restore the file)"
        )
    console.print(f"{len(packs)} pack(s) verified")
    return 0


def _install(args: argparse.Namespace) -> int:
    from kiosk.vision.packs.insightface_pack import (
        INSIGHTFACE_LICENCE,
        LICENCE_WARNING,
        install_pack,
    )

    cfg = _cfg(args)
    pack = install_pack(args.path, cfg, args.name, replace=args.replace)
    console.print(f"installed pack [bold]{pack.pack_id}[/bold] in {pack.root}")
    for spec in pack.models:
        note = "" if spec.role in ("detector", "recognizer") else "  (recorded, not used)"
        size = "×".join(str(v) for v in spec.input_size) if any(spec.input_size) else "any"
        console.print(
            f"  {spec.role:10} {spec.kind:9} {spec.file}  input {size}, {spec.colour_order} "
            f"mean {spec.mean[0]:g} std {spec.std[0]:g}{note}"
        )
    licence = pack.info.get("licence", INSIGHTFACE_LICENCE)
    console.print(f"[yellow]licence: {licence}[/yellow]")
    console.print(f"[yellow]{LICENCE_WARNING}[/yellow]")
    console.print(
        f'select it with vision.pack = "{pack.pack_id}" in the config file '
        f"(or KIOSK_VISION_PACK={pack.pack_id}), then calibrate its threshold: "
        "scores of different models are not comparable"
    )
    return 0


def _convert(args: argparse.Namespace) -> int:
    from kiosk.evaluation.convert import convert
    from kiosk.vision.packs import sha256_file

    cfg = _cfg(args)
    root = Path(cfg.paths.models_dir)
    manifest = tomllib.loads((root / "manifest.toml").read_text(encoding="utf-8"))
    out_dir = args.out or root
    differ = 0
    for entry in manifest.get("models", []):
        if "source_file" not in entry or (args.role and entry["role"] != args.role):
            continue
        source = root / entry["source_file"]
        if sha256_file(source) != entry.get("source_sha256"):
            raise ModelIntegrityError(f"{entry['source_file']} does not match its manifest")
        target = out_dir / entry["file"]
        counts = convert(
            source,
            target,
            symbolic_input=entry["role"] == "detector",
            symbolic_batch=entry["role"] == "recognizer",
        )
        digest = sha256_file(target)
        same = digest == entry["sha256"]
        differ += not same
        console.print(f"{entry['role']:10} {target}  {counts}")
        console.print(f"           sha256 {digest}")
        console.print(
            f"           manifest {entry['sha256']}  "
            + ("[green]same[/green]" if same else "[red]DIFFERENT[/red]")
        )
    if differ:
        console.print(
            "[red]converted bytes differ from the manifest: check the onnx version, or "
            "update the manifest's sha256 deliberately[/red]"
        )
        return 1
    return 0
