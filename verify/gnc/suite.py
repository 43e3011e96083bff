"""Every figure of the G&C paper in one command: ``python -m verify.gnc_figures [--figures 1,2,...] [--full]
[--out DIR] [run options of python -m verify]`` writes each preset's record (``figure_N.json``), its
paper-layout figure (``figure_N.png/.pdf``) and a summary table (``summary.md``, ``summary.json``).

This is the one module of ``verify.gnc`` that imports the two checks; nothing imports it.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from verify import depth_theorem, width_theorem
from verify import registry as checks
from verify.__main__ import add_run_arguments, check_run_arguments, execution_of
from verify.engine import run_check
from verify.errors import UserInputError, require
from verify.verdicts import EXIT_BAD_INPUT, exit_code, worst
from verify.gnc.figures import figure_file
from verify.gnc.presets import PRESETS, preset_for, scope_verdict

CHECKS = {"width_theorem": width_theorem, "depth_theorem": depth_theorem}


def run_suite(figures, out: Path, args) -> list[dict]:
    """Run the presets of ``figures`` with the run options ``args`` (those of ``python -m verify``: mode, seed,
    ``--set`` overrides, executor, ...); write ``figure_N.json`` (record), ``figure_N.png/.pdf`` (paper layout)
    and ``summary.md`` / ``summary.json`` in ``out``; return the summary rows."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for figure in figures:
        preset = preset_for(int(figure))
        module = CHECKS[preset.check]
        start = time.perf_counter()
        params = checks.apply(module, checks.defaults(module, args.full), args.overrides + [f"figure={figure}"])
        params["mode"] = "full" if args.full else "quick"
        record = run_check(module, params, args.seed, inputs={"problem": args.problem}, execution=execution_of(args, module),
                           checkpoint=out / f"figure_{figure}.partial.jsonl", progress=not args.no_progress,
                           restart=args.restart, until_decisive=args.until_decisive, budget_min=args.budget_min,
                           max_rounds=args.max_rounds)
        record.write_json(out / f"figure_{figure}.json")
        d = json.loads((out / f"figure_{figure}.json").read_text())
        figure_file(d, out / f"figure_{figure}", module.joined(d["points"]))
        judged = scope_verdict(d)
        rows.append({"figure": int(figure), "check": preset.check, "setting": preset.setting,
                     "in_scope": preset.in_scope, "verdict": judged["verdict"], "guard": judged["guard"],
                     "headline": d["verdict"], "runtime_s": round(time.perf_counter() - start, 1),
                     "mode": params["mode"]})
        (out / "summary.json").write_text(json.dumps(rows, indent=1))
        (out / "summary.md").write_text(summary_table(rows))
    return rows


def summary_table(rows: list[dict]) -> str:
    head = ("| figure | check | setting | theorem's hypotheses | verdict (claims that apply) | must-not-pass claims "
            "| record headline | runtime (s) |\n|---|---|---|---|---|---|---|---|\n")
    return head + "".join(
        f"| {r['figure']} | {r['check']} | {r['setting']} | {'inside' if r['in_scope'] else 'outside'} | "
        f"{r['verdict']} | {r['guard']} | {r['headline']} | {r['runtime_s']} |\n" for r in rows)


def parse_figures(text: str) -> list[int]:
    """``all`` or comma-separated figure numbers 1..11 (a one-line error otherwise)."""
    if text.strip() == "all":
        return sorted(PRESETS)
    try:
        figures = [int(f) for f in text.split(",") if f.strip()]
    except ValueError:
        raise UserInputError(f"--figures {text}: expected comma-separated figure numbers 1..11 or all") from None
    require(figures, "--figures: give at least one figure")
    for f in figures:
        preset_for(f)
    return figures


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m verify.gnc_figures", description=__doc__.splitlines()[0])
    p.add_argument("--figures", default="all", help="comma-separated figure numbers 1..11, or all (default)")
    add_run_arguments(p)
    p.set_defaults(out=Path("out/figures"))
    args = p.parse_args(argv)
    try:
        check_run_arguments(args)
        figures = parse_figures(args.figures)
        rows = run_suite(figures, args.out, args)
    except UserInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(summary_table(rows))
    print(f"wrote {args.out}/summary.md and figure_N.json/.png/.pdf for figures {', '.join(map(str, figures))}")
    verdicts = [r["verdict"] if r["guard"] != "VIOLATED" else "fail" for r in rows]
    return exit_code(worst(verdicts, empty="pass"))


if __name__ == "__main__":
    sys.exit(main())
