"""The ``hardpos`` command line: one subcommand per library entry point.

A user's mistake (a missing file, a bad value) ends with its message on stderr and exit
status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from hardpos.errors import HardposError

# subcommand modules under hardpos.cli; each has add_parser(subparsers) and run(args)
COMMANDS = (
    "train_command", "evaluate_command", "attack_command", "pass_command", "tables_command",
)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hardpos", description="Adversarial diversity and hard-positive generation."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"hardpos.cli.{name}")
        known = set(subparsers.choices)
        module.add_parser(subparsers)
        for added in set(subparsers.choices) - known:
            subparsers.choices[added].set_defaults(_module=module)
            subparsers.choices[added].formatter_class = argparse.ArgumentDefaultsHelpFormatter
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s: %(message)s",
    )
    try:
        return int(args._module.run(args) or 0)
    except HardposError as exc:
        print(f"hardpos {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a file system refusal the checks did not foresee (full disk, ...)
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"hardpos {args.command}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"hardpos {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
