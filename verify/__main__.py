"""Command line.

``python -m verify <check> [--quick | --full | --until-decisive [--budget-min M] [--max-rounds K]] [--seed N] [--out DIR]``
``[--set k=v ...] [--params] [--restart] [--workers N] [--executor local|dask] [--scheduler ADDR] [--device D]``
``[--data F.npz] [--problem F.npz]``; ``python -m verify show FILE.json`` (the claim table of a saved record);
``python -m verify plot FILE.json [--out DIR] [--format png,pdf,svg] [--style paper|screen]`` (redraw its
figure); ``python -m verify report [--quick | --full | --until-decisive] [--checks a,b] [--from DIR] [--out DIR]``
(run the checks, or collect saved records, into ``report.html`` + ``report.md``); ``python -m verify --list``.

Exit codes (:mod:`verify.verdicts`): 0 headline pass, 1 fail, 3 inconclusive, 4 vacuous, 2 bad input or an
error (one line on stderr, no traceback; ``--debug`` shows it), 130 interrupted (finished points are kept).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from verify import registry as checks
from verify.errors import UserInputError, require
from verify.report import format_claims, load_record
from verify.verdicts import EXIT_BAD_INPUT, EXIT_INTERRUPTED, exit_code

COMMANDS = ("show", "plot", "report")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and exit code 2, as for every other bad input
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m verify", description="Numerical checks of implicit-bias theorems.")
    p.add_argument("check", nargs="?", help="name of the check (see --list), or 'show' / 'plot'")
    p.add_argument("record", nargs="?", type=Path, help="with 'show' / 'plot': a saved record DIR/<check>.json")
    p.add_argument("--list", action="store_true", help="list the checks and exit")
    p.add_argument("--params", action="store_true", help="list the check's parameters with their defaults")
    p.add_argument("--checks", default=None, metavar="A,B", help="with 'report': the checks (default: all)")
    p.add_argument("--from", dest="from_dir", type=Path, default=None, metavar="DIR",
                   help="with 'report': collect the records saved in DIR instead of running")
    p.add_argument("--style", choices=("screen", "paper"), default="screen",
                   help="figure style: screen (default) or paper (3.3/6.9 in, 8 pt, panel letters)")
    p.add_argument("--format", dest="formats", default="png,pdf", metavar="F,G",
                   help="figure formats among png, pdf, svg (default: png,pdf)")
    add_run_arguments(p)
    return p


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of a run, shared by every command that runs checks."""
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="small settings, a minute or two (default)")
    mode.add_argument("--full", action="store_true", help="the paper's settings (long)")
    p.add_argument("--until-decisive", action="store_true",
                   help="add rounds of new seeds until no theorem/published/extension claim is inconclusive")
    p.add_argument("--budget-min", type=float, default=None, metavar="M",
                   help="with --until-decisive: stop adding rounds after M minutes")
    p.add_argument("--max-rounds", type=int, default=None, metavar="K",
                   help="with --until-decisive: at most K rounds (default 4), each judged at alpha / K")
    p.add_argument("--seed", type=int, default=0, help="master seed; a run is reproducible bit for bit")
    p.add_argument("--out", type=Path, default=None, help="output directory (default: out)")
    p.add_argument("--restart", action="store_true", help="discard a checkpoint left by an interrupted run")
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


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.list:
        for name in checks.CHECKS:
            print(f"{name:24s} {checks.load(name).SUMMARY}")
        return 0
    if args.check is None:
        print("error: name a check (python -m verify --list shows them)", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        if args.check in COMMANDS:
            return {"show": _show, "plot": _plot, "report": _report}[args.check](args)
        require(args.record is None, f"unexpected argument {args.record} (only show/plot take a record file)")
        module = checks.load(args.check)
        if args.params:
            print(checks.help_text(module))
            return 0
        check_run_arguments(args)
        return _run(args, module)
    except UserInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted (finished points are kept; rerun the same command to resume)", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # an internal error: one line unless --debug
        if args.debug:
            raise
        print(f"error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)", file=sys.stderr)
        return EXIT_BAD_INPUT


def check_run_arguments(args) -> None:
    """One-line errors for the run flags shared by every command that runs checks."""
    require(args.seed >= 0, "--seed must be a non-negative integer")
    require(args.workers is None or args.workers >= 1, f"--workers must be >= 1, got {args.workers}")
    require(args.budget_min is None or args.budget_min > 0, f"--budget-min must be > 0, got {args.budget_min}")
    require(args.budget_min is None or args.until_decisive, "--budget-min goes with --until-decisive")
    require(args.max_rounds is None or 1 <= args.max_rounds <= 16, f"--max-rounds must be in 1..16, got {args.max_rounds}")
    require(args.max_rounds is None or args.until_decisive, "--max-rounds goes with --until-decisive")
    require(not (args.full and args.until_decisive), "--until-decisive starts from the quick settings; "
            "use it without --full, or --full alone")
    args.out = args.out or Path("out")
    writable_directory(args.out, "--out")


def writable_directory(path: Path, flag: str) -> None:
    require(not path.exists() or path.is_dir(), f"{flag} {path}: not a writable directory (it is a file)")
    parent = path if path.exists() else next((p for p in path.parents if p.exists()), Path("."))
    require(os.access(parent, os.W_OK), f"{flag} {path}: not a writable directory")


def execution_of(args, module):
    from verify.executors import Execution, default_workers
    # short checks set DEFAULT_WORKERS = 1: spawning a worker (importing torch) costs more than they compute
    workers = args.workers if args.workers is not None else getattr(module, "DEFAULT_WORKERS", default_workers())
    return Execution(kind=args.executor, workers=workers, scheduler=args.scheduler, device=args.device)


def run_one(args, module, out: Path):
    """Run ``module`` with the arguments' settings into ``out``; returns the record and its figure paths."""
    from verify.engine import run_check
    params = checks.apply(module, checks.defaults(module, args.full), args.overrides)
    params["mode"] = "full" if args.full else "quick"
    record = run_check(module, params, args.seed, inputs={"data": args.data, "problem": args.problem},
                       execution=execution_of(args, module), checkpoint=out / f"{module.NAME}.partial.jsonl",
                       progress=not args.no_progress, restart=args.restart, until_decisive=args.until_decisive,
                       budget_min=args.budget_min, max_rounds=args.max_rounds)
    return record, record.save(out, style=args.style, formats=formats_of(args))


def formats_of(args) -> tuple[str, ...]:
    from verify.figures import FORMATS
    formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())
    bad = [f for f in formats if f not in FORMATS]
    require(formats and not bad, f"--format {args.formats}: expected some of {', '.join(FORMATS)}")
    return formats


def _run(args, module) -> int:
    record, paths = run_one(args, module, args.out)
    print(format_claims(record))
    print(f"wrote {', '.join(str(p) for p in paths)}")
    return exit_code(record.verdict)


def _saved(args) -> dict:
    require(args.record is not None, f"usage: python -m verify {args.check} DIR/<check>.json")
    require(args.record.is_file(), f"{args.record}: no such file")
    try:
        record = load_record(args.record)
    except ValueError as exc:
        raise UserInputError(f"{args.record}: not a JSON record ({exc})") from None
    require(isinstance(record, dict) and record.get("check") in checks.CHECKS,
            f"{args.record}: not a record of a known check")
    return record


def _show(args) -> int:
    """Print the claim table of a saved record; exit with its headline's code."""
    from verify.report import Record
    record = Record.from_dict(_saved(args))
    print(format_claims(record))
    return exit_code(record.verdict)


def _plot(args) -> int:
    """Redraw the figure of a saved record (``DIR/<check>.json`` → ``DIR/<check>.png/.pdf``, or into the
    ``--out`` directory when it is given)."""
    record = _saved(args)
    stem = args.record.with_suffix("")
    if args.out is not None:
        writable_directory(args.out, "--out")
        stem = args.out / args.record.stem
    from verify import figures as fig
    with fig.style(args.style, formats_of(args)):
        figures = checks.load(record["check"]).plot(record, stem)
    print(f"wrote {', '.join(str(p) for p in figures)}")
    return 0


def _report(args) -> int:
    """Run the chosen checks (or collect their saved records) and write report.html and report.md."""
    from verify.report_page import write_report
    from verify.verdicts import worst
    require(args.record is None, f"unexpected argument {args.record} (report takes --from DIR)")
    require(not args.overrides, "--set is per check: run the check alone, then collect it with --from")
    names = [n.strip() for n in args.checks.split(",") if n.strip()] if args.checks else list(checks.CHECKS)
    modules = [checks.load(n) for n in names]
    records = []
    if args.from_dir is not None:
        require(args.from_dir.is_dir(), f"--from {args.from_dir}: not a directory")
        for m in modules:
            path = args.from_dir / f"{m.NAME}.json"
            if path.is_file():
                records.append(_saved(argparse.Namespace(record=path, check="report")))
        require(records, f"--from {args.from_dir}: no record of {', '.join(names)} there")
        out = args.out or args.from_dir
        figs = {r["check"]: args.from_dir / f"{r['check']}.png" for r in records}
    else:
        check_run_arguments(args)
        out, figs = args.out, None
        for m in modules:
            record, _ = run_one(args, m, out)
            print(f"{m.NAME:24s} {record.verdict:12s} {record.runtime_s / 60:.1f} min", flush=True)
            records.append(record.to_dict())
    writable_directory(out, "--out")
    paths = write_report(records, out, summaries={m.NAME: m.SUMMARY for m in modules}, figures=figs)
    print(f"wrote {', '.join(str(p) for p in paths)}")
    return exit_code(worst(r["verdict"] for r in records))


if __name__ == "__main__":
    sys.exit(main())
