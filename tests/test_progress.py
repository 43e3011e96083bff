"""Progress on a redirected stderr: whole lines with the fraction done, never more often than the interval."""
import io
from concurrent.futures import ThreadPoolExecutor

from verify.progress import LineProgress


def test_line_progress_counts_every_update_across_threads_and_writes_whole_lines():
    stream = io.StringIO()
    bar = LineProgress(4000, "draws", interval=0.0, stream=stream)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: [bar.update(1) for _ in range(1000)], range(4)))
    lines = stream.getvalue().splitlines()
    assert bar.done == 4000 and len(lines) >= 1
    assert all(line.startswith("draws: ") and "min left" in line for line in lines)
    assert "100.0% (4,000 of 4,000)" in stream.getvalue()


def test_line_progress_is_quiet_within_the_interval():
    stream = io.StringIO()
    bar = LineProgress(10, "x", interval=3600.0, stream=stream)
    for _ in range(10):
        bar.update()
    assert stream.getvalue() == ""
