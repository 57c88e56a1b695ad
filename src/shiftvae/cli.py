"""The ``shiftvae`` command: a thin layer over the API, one module per subcommand.

Every subcommand module in :mod:`shiftvae.commands` has a docstring (its help text),
``add_args(parser)`` and ``main(args) -> int``.  Errors the library raises on purpose become
one sentence on stderr and exit code 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from shiftvae._version import __version__
from shiftvae.errors import ShiftVAEError

COMMANDS = ("demo", "fit", "fit-many", "sweep", "tune", "reproduce")
DESCRIPTION = (
    "Order-parameter maps of atomically resolved images (STEM, STM, AFM) from a "
    "shift-invariant VAE, without labels.  Start with: shiftvae fit IMAGE --out DIR"
)
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit code 2 (its default), no usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"shiftvae: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="shiftvae", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"shiftvae {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMANDS:
        try:
            module_name = f"shiftvae.commands.{name.replace('-', '_')}"
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # a subcommand not shipped in this build
            raise
        doc = module.__doc__ or name
        p = sub.add_parser(
            name,
            help=doc.splitlines()[0],
            description=doc,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_args(p)
        p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
        p.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
        p.set_defaults(_main=module.main)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``shiftvae`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(message)s",
        stream=sys.stderr,
        force=True,
    )
    try:
        return int(args._main(args) or 0)
    except ShiftVAEError as exc:
        if args.debug:
            raise
        print(f"shiftvae {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        kept = getattr(args, "interrupt_note", None) or (  # fit: what to resume, and how
            "finished runs were kept (see above)"
            if args.command in ("sweep", "tune")
            else "no results were written"
        )
        print(f"shiftvae {args.command}: interrupted; {kept}", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
