"""`kiosk config show|check`."""

from __future__ import annotations

import argparse

from kiosk.config import dump_toml, load_config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="show or check the configuration")
    csub = p.add_subparsers(dest="config_command", required=True)
    show = csub.add_parser("show", help="print the effective configuration as TOML")
    show.set_defaults(handler=_show)
    check = csub.add_parser("check", help="validate a config file and the environment")
    check.add_argument("file", nargs="?", help="file to check (default: the active one)")
    check.set_defaults(handler=_check)


def _show(args: argparse.Namespace) -> int:
    print(dump_toml(load_config(args.config)), end="")
    return 0


def _check(args: argparse.Namespace) -> int:
    cfg = load_config(args.file or args.config)
    print(f"config OK (data dir {cfg.data_dir})")
    return 0
