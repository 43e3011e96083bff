"""Every judged claim can fail, and a test shows it.

Each check lists its claims as data (``CLAIMS``, :class:`verify.verdicts.ClaimSpec`). A test that makes a
claim fail — a perturbed prediction, a violated hypothesis, or planted data — is marked
``@pytest.mark.falsifies("<check>", "<key>", ...)``. This meta-test reads those marks from the test files (no
test is run) and asserts that every non-diagnostic claim of every check has one.
"""
import ast
from pathlib import Path

import pytest

from verify import registry as checks

TESTS = Path(__file__).resolve().parent


def marked() -> set[tuple[str, str]]:
    out = set()
    for path in TESTS.glob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "falsifies"):
                args = [a.value for a in node.args if isinstance(a, ast.Constant)]
                out.update((args[0], key) for key in args[1:])
    return out


@pytest.mark.parametrize("check", checks.CHECKS)
def test_every_claim_has_a_failure_test(check):
    module = checks.load(check)
    specs = getattr(module, "CLAIMS", None)
    assert specs, f"{check} lists no CLAIMS"
    have = marked()
    missing = [k for k, s in specs.items() if s.tier != "diagnostic" and (check, k) not in have]
    assert not missing, f"{check}: no @pytest.mark.falsifies test for {missing}"


@pytest.mark.parametrize("check", checks.CHECKS)
def test_marks_name_real_claims(check):
    specs = getattr(checks.load(check), "CLAIMS", {}) or {}
    unknown = sorted(k for c, k in marked() if c == check and k not in specs)
    assert not unknown, f"@falsifies names claims {check} does not list: {unknown}"
