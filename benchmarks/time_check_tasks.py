"""Time every task of one check run, in process (one worker): ``python benchmarks/time_check_tasks.py CHECK
'{"figure": "2", "seeds": 1}' [--full] [OUT.json]`` prints ``task-key seconds`` per task as it finishes, then the
verdict and the record's runtime, and writes the times to OUT.json when given. A report, not a test."""
from __future__ import annotations

import json
import sys
import time

import verify
from verify import registry as checks


def main(argv: list[str]) -> int:
    full = "--full" in argv
    args = [a for a in argv if a != "--full"]
    module = checks.load(args[0])
    overrides = json.loads(args[1]) if len(args) > 1 else {}
    original, times = module.compute, {}

    def timed(task):
        start = time.perf_counter()
        rows = original(task)
        times[task.key] = time.perf_counter() - start
        print(f"{task.key} {times[task.key]:.1f}", flush=True)
        return rows

    module.compute = timed
    try:
        record = verify.run(args[0], 0, full=full, workers=1, progress=False, **overrides)
    finally:
        module.compute = original
    print("verdict", record.verdict, "runtime", round(record.runtime_s, 1))
    if len(args) > 2:
        with open(args[2], "w") as f:
            json.dump(times, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
