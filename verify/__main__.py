"""Command line: ``python -m verify <check> [--quick | --full] [--seed N] [--out DIR] [--set k=v ...]``.

Exit codes: 0 the verdict is ``pass``; 1 ``fail`` or ``inconclusive``; 2 bad input or an error (one line
on stderr, no traceback; ``--debug`` shows the traceback of an unexpected error).
"""
from __future__ import annotations

import argparse
import inspect
import sys
import time
from pathlib import Path

from verify import checks
from verify.errors import UserInputError
from verify.params import apply_overrides
from verify.report import format_claims


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and exit code 2, as for every other bad input
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m verify", description="Numerical checks of implicit-bias theorems.")
    p.add_argument("check", nargs="?", help="name of the check (see --list)")
    p.add_argument("--list", action="store_true", help="list the checks and exit")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="small settings, about a minute (default)")
    mode.add_argument("--full", action="store_true", help="the paper's settings (long)")
    p.add_argument("--seed", type=int, default=0, help="master seed; a run is reproducible bit for bit")
    p.add_argument("--out", type=Path, default=Path("out"), help="output directory (default: out)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a parameter (repeatable; lists comma-separated)")
    p.add_argument("--problem", type=Path, default=None,
                   help="a .npz file with arrays A (n x m x m') and W_star (m x m') for G&C checks")
    p.add_argument("--no-progress", action="store_true", help="no progress output")
    p.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.list:
        for name in checks.CHECKS:
            try:
                summary = checks.load(name).SUMMARY
            except ImportError:
                summary = "(not available in this build)"
            print(f"{name:18s} {summary}")
        return 0
    if args.check is None:
        print("error: name a check (python -m verify --list shows them)", file=sys.stderr)
        return 2
    if args.check not in checks.CHECKS:
        print(f"error: unknown check {args.check!r}; known: {', '.join(checks.CHECKS)}", file=sys.stderr)
        return 2
    if args.seed < 0:
        print("error: --seed must be a non-negative integer", file=sys.stderr)
        return 2
    module = checks.load(args.check)
    try:
        defaults = {**module.QUICK, **(module.FULL if args.full else {})}
        params = apply_overrides(defaults, args.overrides, getattr(module, "TYPES", None))
        params["mode"] = "full" if args.full else "quick"
        module.validate(params)
        start = time.perf_counter()
        extra = {}
        if "checkpoint" in inspect.signature(module.run).parameters:  # resumable sweeps
            extra["checkpoint"] = args.out / f"{args.check}.partial.jsonl"
        record = module.run(params, args.seed, problem=args.problem, progress=not args.no_progress, **extra)
        record.runtime_s = time.perf_counter() - start
        json_path = args.out / f"{args.check}.json"
        record.write_json(json_path)
        figures = module.plot(record.to_dict(), args.out / args.check)
    except UserInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 2
    except Exception as exc:  # an internal error: one line unless --debug
        if args.debug:
            raise
        print(f"error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)", file=sys.stderr)
        return 2
    print(format_claims(record))
    print(f"wrote {json_path} and {', '.join(str(p) for p in figures)}")
    return 0 if record.verdict == "pass" else 1


if __name__ == "__main__":
    sys.exit(main())
