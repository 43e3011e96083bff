"""One report of every claim: ``report.html`` (one self-contained file, figures inline) and ``report.md``.

A report card first (check, question, headline, per-tier verdicts, findings, runtime), then per check its
claims (tier, source, predicted, measured, CI, rule, verdict), its figure and its provenance (package
version, git commit, seed, parameters, machine, executor).
"""
from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import numpy as np


def fmt(v) -> str:
    """A number, list or string as a short cell: 4 significant digits, at most 3 list items."""
    if isinstance(v, (list, tuple, np.ndarray)):
        v = list(np.ravel(np.asarray(v, dtype=object)))
        inner = ", ".join(fmt(x) for x in v[:3])
        return f"[{inner}{', ...' if len(v) > 3 else ''}]"
    if isinstance(v, (float, np.floating)):
        return f"{v:.4g}"
    return str(v)


CLAIM_COLUMNS = ("claim", "tier", "source", "predicted", "measured", "CI", "verdict", "rule")
_COLOURS = {"pass": "#1a7f37", "fail": "#b42318", "inconclusive": "#9a6700", "vacuous": "#57606a"}
_CSS = """body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1200px;
margin:2em auto;padding:0 1em;color:#1f2328;line-height:1.4}table{border-collapse:collapse;margin:.6em 0;
font-size:13px;width:100%}th,td{border:1px solid #d0d7de;padding:3px 6px;vertical-align:top;text-align:left}
th{background:#f6f8fa}td.v{font-weight:600;white-space:nowrap}img{max-width:100%;border:1px solid #d0d7de}
code,pre{font-size:12px}details{margin:.5em 0}h2{border-bottom:1px solid #d0d7de;padding-bottom:.2em}
.muted{color:#57606a}"""


def verdict_text(claim: dict) -> str:
    v = claim.get("verdict") or "-"
    expected = claim.get("expected", "pass")
    if expected != "pass" and v == expected:
        v += " (as expected)"
    elif expected != "pass" and claim.get("verdict"):
        v += f" (expected {expected})"
    return v


def _ci(c: dict) -> str:
    return fmt(c.get("ci")) if c.get("ci") is not None else ""


def _cells(c: dict) -> tuple:
    return (c["name"], c.get("tier") or "?", c.get("source", ""), fmt(c.get("predicted")), fmt(c.get("measured")),
            _ci(c), verdict_text(c), c.get("rule", ""))


def claims_html(record: dict) -> str:
    """The claim table of a record as an HTML table."""
    rows = []
    for c in record.get("claims", []):
        cells = [html.escape(str(x)) for x in _cells(c)]
        colour = _COLOURS.get(c.get("verdict") or "", "#57606a")
        cells[6] = f'<td class="v" style="color:{colour}">{cells[6]}</td>'
        rows.append("<tr>" + "".join(x if x.startswith("<td") else f"<td>{x}</td>" for x in cells) + "</tr>")
    head = "".join(f"<th>{h}</th>" for h in CLAIM_COLUMNS)
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _card_rows(records: list[dict], summaries: dict) -> list[tuple]:
    out = []
    for r in records:
        tiers = ", ".join(f"{t} {v}" for t, v in (r.get("verdicts") or {}).items())
        finds = "; ".join(f["name"] for f in r.get("findings") or []) or "none"
        out.append((r["check"], summaries.get(r["check"], ""), r.get("verdict", "?"), tiers, finds,
                    f"{r.get('runtime_s', 0) / 60:.1f} min"))
    return out


CARD_COLUMNS = ("check", "question", "headline", "per tier", "findings", "runtime")


def _provenance(r: dict) -> dict:
    v = r.get("versions", {})
    return {"package": v.get("implicit_bias_verify"), "commit": v.get("commit"), "seed": r.get("seed"),
            "mode": (r.get("params") or {}).get("mode"), "machine": f"{v.get('platform')}, {v.get('cpu_count')} CPUs",
            "executor": r.get("execution"), "rounds": len(r.get("rounds") or []) or None}


def write_report(records: list[dict], out: Path, *, summaries: dict, title: str = "implicit-bias-verify report",
                 figures: dict | None = None) -> list[Path]:
    """Write ``out/report.html`` and ``out/report.md`` for ``records``; ``figures`` maps a check to its PNG
    (default ``out/<check>.png`` where it exists). Returns both paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    figures = figures or {r["check"]: out / f"{r['check']}.png" for r in records}
    card = _card_rows(records, summaries)
    return [_write_html(records, out, card, figures, title), _write_md(records, out, card, figures, title)]


def _write_html(records, out, card, figures, title) -> Path:
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>",
             "<p class='muted'>Verdicts: pass = the data support the prediction at the stated level; fail = the "
             "data contradict it; inconclusive = neither; vacuous = a bound that holds but says nothing. Tiers: "
             "theorem, published (a fail is a finding at this scale), extension (this package's), control.</p>",
             "<h2>Report card</h2><table><tr>" + "".join(f"<th>{h}</th>" for h in CARD_COLUMNS) + "</tr>"]
    for row in card:
        cells = [html.escape(str(x)) for x in row]
        cells[0] = f"<a href='#{cells[0]}'>{cells[0]}</a>"
        cells[2] = f"<b style='color:{_COLOURS.get(row[2], '#000')}'>{cells[2]}</b>"
        parts.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    parts.append("</table>")
    for r in records:
        parts.append(f"<h2 id='{r['check']}'>{r['check']}: {html.escape(r.get('verdict', '?'))}</h2>")
        parts.append(claims_html(r))
        needed = [(c["name"], c["needed"]) for c in r.get("claims", []) if c.get("needed")]
        if needed:
            parts.append("<p><b>What would decide the inconclusive claims</b></p><ul>"
                         + "".join(f"<li>{html.escape(n)}: {html.escape(t)}</li>" for n, t in needed) + "</ul>")
        png = Path(figures.get(r["check"], ""))
        if png.is_file():
            data = base64.b64encode(png.read_bytes()).decode()
            parts.append(f"<img alt='figure of {r['check']}' src='data:image/png;base64,{data}'>")
        prov = html.escape(json.dumps(_provenance(r), default=str))
        params = html.escape(json.dumps(r.get("params"), default=str, indent=1))
        parts.append(f"<details><summary>provenance and parameters</summary><pre>{prov}\n{params}</pre></details>")
    parts.append("</body></html>")
    path = out / "report.html"
    path.write_text("\n".join(parts))
    return path


def _md_cell(x) -> str:
    return str(x).replace("|", "\\|").replace("\n", " ")


def _md_table(header, rows) -> list[str]:
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(_md_cell(x) for x in row) + " |" for row in rows])


def _write_md(records, out, card, figures, title) -> Path:
    lines = [f"# {title}", "", "## Report card", "", *_md_table(CARD_COLUMNS, card), ""]
    for r in records:
        lines += [f"## {r['check']}: {r.get('verdict', '?')}", ""]
        lines += _md_table(CLAIM_COLUMNS[:-1], [_cells(c)[:-1] for c in r.get("claims", [])])
        lines += [""] + [f"- needed for {c['name']}: {c['needed']}" for c in r.get("claims", []) if c.get("needed")]
        png = Path(figures.get(r["check"], ""))
        if png.is_file():
            rel = png.relative_to(out) if png.is_relative_to(out) else png
            lines += ["", f"![{r['check']}]({rel})"]
        prov = _provenance(r)
        lines += ["", "Provenance: " + ", ".join(f"{k} {v}" for k, v in prov.items() if v is not None), ""]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
