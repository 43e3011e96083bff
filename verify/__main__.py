"""Command line: ``python -m verify <check> [--quick | --full] [--seed N] [--out DIR] [--set k=v ...]``
``[--workers N] [--executor local|dask] [--scheduler ADDR] [--device D] [--data F.npz] [--problem F.npz]``,
``python -m verify plot out/<check>.json`` (redraw a figure from a saved record), ``python -m verify --list``.

Exit codes: 0 the verdict is ``pass``; 1 ``fail``, ``inconclusive`` or ``vacuous``; 2 bad input or an error
(one line on stderr, no traceback; ``--debug`` shows the traceback of an unexpected error).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from verify import checks
from verify.errors import UserInputError, require
from verify.params import apply_overrides
from verify.report import format_claims, load_record


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and exit code 2, as for every other bad input
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m verify", description="Numerical checks of implicit-bias theorems.")
    p.add_argument("check", nargs="?", help="name of the check (see --list), or 'plot'")
    p.add_argument("record", nargs="?", type=Path, help="with 'plot': the saved record out/<check>.json")
    p.add_argument("--list", action="store_true", help="list the checks and exit")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="small settings, a minute or two (default)")
    mode.add_argument("--full", action="store_true", help="the paper's settings (long)")
    p.add_argument("--seed", type=int, default=0, help="master seed; a run is reproducible bit for bit")
    p.add_argument("--out", type=Path, default=Path("out"), help="output directory (default: out)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a parameter (repeatable; lists comma-separated)")
    p.add_argument("--problem", type=Path, default=None,
                   help="a .npz file with arrays A (n x m x m') and W_star (m x m') for G&C checks")
    p.add_argument("--data", type=Path, default=None,
                   help="a .npz file with X_train, y_train, X_test, y_test for the real-network checks")
    p.add_argument("--workers", type=int, default=None,
                   help="parallel workers (default: the number of cores, or 1 for the short checks; 1 runs in this process)")
    p.add_argument("--executor", choices=("local", "dask"), default="local",
                   help="local process pool (default) or a Dask LocalCluster")
    p.add_argument("--scheduler", default=None, metavar="ADDR",
                   help="address (tcp://host:8786) or scheduler file of a running Dask cluster")
    p.add_argument("--device", default="cpu", help="torch device: auto, cpu (default), cuda, cuda:N")
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
            print(f"{name:24s} {summary}")
        return 0
    if args.check is None:
        print("error: name a check (python -m verify --list shows them)", file=sys.stderr)
        return 2
    try:
        if args.check == "plot":
            return _plot(args)
        require(args.record is None, f"unexpected argument {args.record} (only 'plot' takes a record file)")
        require(args.check in checks.CHECKS, f"unknown check {args.check!r}; known: {', '.join(checks.CHECKS)}")
        require(args.seed >= 0, "--seed must be a non-negative integer")
        return _run(args)
    except UserInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted (finished points are kept; rerun the same command to resume)", file=sys.stderr)
        return 2
    except Exception as exc:  # an internal error: one line unless --debug
        if args.debug:
            raise
        print(f"error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)", file=sys.stderr)
        return 2


def _run(args) -> int:
    from verify.engine import run_check
    from verify.executors import Execution, default_workers
    module = checks.load(args.check)
    defaults = {**module.QUICK, **(module.FULL if args.full else {})}
    params = apply_overrides(defaults, args.overrides, getattr(module, "TYPES", None))
    params["mode"] = "full" if args.full else "quick"
    checkpoint = args.out / f"{args.check}.partial.jsonl"
    # short checks set DEFAULT_WORKERS = 1: spawning a worker (importing torch) costs more than they compute
    workers = args.workers if args.workers is not None else getattr(module, "DEFAULT_WORKERS", default_workers())
    execution = Execution(kind=args.executor, workers=workers, scheduler=args.scheduler, device=args.device)
    record = run_check(module, params, args.seed, inputs={"data": args.data, "problem": args.problem},
                       execution=execution, checkpoint=checkpoint, progress=not args.no_progress)
    json_path = args.out / f"{args.check}.json"
    record.write_json(json_path)
    figures = module.plot(record.to_dict(), args.out / args.check)
    print(format_claims(record))
    print(f"wrote {json_path} and {', '.join(str(p) for p in figures)}")
    return 0 if record.verdict == "pass" else 1


def _plot(args) -> int:
    """Redraw the figure of a saved record next to it (``out/<check>.json`` → ``out/<check>.png/.pdf``)."""
    require(args.record is not None, "usage: python -m verify plot out/<check>.json")
    require(args.record.is_file(), f"{args.record}: no such file")
    try:
        record = load_record(args.record)
    except ValueError as exc:
        raise UserInputError(f"{args.record}: not a JSON record ({exc})") from None
    require(isinstance(record, dict) and record.get("check") in checks.CHECKS,
            f"{args.record}: not a record of a known check")
    figures = checks.load(record["check"]).plot(record, args.record.with_suffix(""))
    print(f"wrote {', '.join(str(p) for p in figures)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
