"""Hypothesis profiles: ``dev`` (default, no deadline) and ``ci`` (same, fewer examples printed).

Select with ``HYPOTHESIS_PROFILE=ci``. Seeds of statistical tests are drawn by hypothesis, so a failing
seed is reported and replayable.
"""
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("dev", deadline=None, max_examples=20,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", deadline=None, max_examples=20, derandomize=False,
                          suppress_health_check=[HealthCheck.too_slow], print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture
def cli(capsys):
    """``cli(*args)`` runs ``python -m verify *args`` in-process and returns (exit code, stdout, stderr);
    ``cli.rejects(*args, message=...)`` asserts the run is refused as bad input: exit 2 and one line on stderr
    that contains ``message``, without a traceback; ``cli.record(check, out, *args)`` runs a check into ``out``,
    asserts the contract of every run (a verdict printed, the record's and each claim's fields, a PNG and a PDF)
    and returns the record."""
    from verify.__main__ import main

    class Cli:
        def __call__(self, *args):
            code = main(list(args))
            out, err = capsys.readouterr()
            return code, out, err

        def rejects(self, *args, message: str) -> str:
            code, _, err = self(*args)
            assert code == 2, (code, err)
            assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
            return err

        def record(self, check: str, out: Path, *args) -> dict:
            code, stdout, _ = self(check, "--out", str(out), *args)
            assert code in (0, 1, 3, 4) and "verdict:" in stdout
            record = json.loads((out / f"{check}.json").read_text())
            assert {"check", "verdict", "verdicts", "findings", "claims", "params", "seed", "versions", "runtime_s",
                    "points"} <= set(record)
            assert code == {"pass": 0, "fail": 1, "inconclusive": 3, "vacuous": 4}[record["verdict"]]
            for claim in record["claims"]:
                assert {"name", "tier", "source", "expected", "predicted", "measured", "ci", "rule", "verdict",
                        "alpha"} <= set(claim)
                assert claim["tier"] and claim["source"], claim["name"]  # every claim says what it is and whose
            assert (out / f"{check}.png").stat().st_size > 10_000 and (out / f"{check}.pdf").exists()
            return record

    return Cli()


def _devices():
    import torch
    return ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]


@pytest.fixture(params=_devices())
def device(request):
    """Every torch device available here (the CPU only on machines without CUDA)."""
    return request.param
