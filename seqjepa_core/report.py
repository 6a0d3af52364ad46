"""The HTML pages of the Snakemake report (``snakemake --report``): paper tables beside ours, an overview
of every artefact on one page, and the provenance of the runs.

Snakemake shows CSV files only as download links, so each table CSV (``seqjepa_core.tables``) is rendered
here as an HTML table: ours (mean ± sample std over seeds), the paper's number (± its std where it gives
one) and the gap. A gap cell is coloured when the gap is larger than the paper's std, or, where the paper
gives none, larger than our spread over seeds; with neither (one seed, no paper std) it is left unjudged.
"""

from __future__ import annotations

import base64
import html
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from seqjepa_core.tables import metric_digits, metric_names, read_table

METRIC_LABELS = {"top1": "Top-1 (%)", "rel_rot_r2": "Rel. rotation R²", "indiv_rot_r2": "Indiv. rotation R²",
                 "color_r2": "Colour R²", "top1_encoder": "Top-1, encoder (%)"}

CSS = """
body { font-family: system-ui, sans-serif; font-size: 13px; margin: 1.2em; color: #222; }
h1 { font-size: 20px; } h2 { font-size: 17px; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
h3 { font-size: 14px; margin-top: 1.2em; }
table { border-collapse: collapse; margin: 0.6em 0; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: right; white-space: nowrap; }
th { background: #eef1f5; text-align: center; }
td.label, td.text { text-align: left; }
td.note { text-align: left; white-space: normal; min-width: 24em; font-size: 11px; color: #555; }
div.scroll { overflow-x: auto; }
td.outside { background: #f6c8c3; font-weight: 600; }
td.within { background: #d9efd9; }
tr.not-run td { color: #999; font-style: italic; }
img { max-width: 100%; border: 1px solid #ddd; }
pre { background: #f7f7f7; padding: 0.6em; overflow-x: auto; font-size: 12px; }
.legend span { padding: 1px 6px; margin-right: 0.8em; }
"""

LEGEND = ('<p class="legend"><span class="outside" style="background:#f6c8c3">|gap| &gt; spread</span>'
          '<span style="background:#d9efd9">|gap| ≤ spread</span> spread = the paper\'s std where it gives '
          'one, else our std over seeds; uncoloured: no spread to judge by (one seed, no paper std). '
          'Cells: ours = mean ± sample std over seeds; paper = the paper\'s number (± its std); '
          'gap = ours − paper.</p>')


def _num(v) -> float:
    return math.nan if v is None or pd.isna(v) else float(v)


def gap_verdict(gap: float, paper_std: float, seed_std: float) -> str:
    """'outside' / 'within' the spread the gap is judged by, or '' when there is nothing to judge."""
    spread = paper_std if not math.isnan(paper_std) else seed_std
    if math.isnan(gap) or math.isnan(spread):
        return ""
    return "outside" if abs(gap) > spread else "within"


def _fmt(value: float, std: float, digits: int) -> str:
    if math.isnan(value):
        return "–"
    return f"{value:.{digits}f}" + ("" if math.isnan(std) else f" ± {std:.{digits}f}")


def _int_or_blank(v) -> str:
    return "" if pd.isna(v) else str(int(v))


def _td(text: str, cls: str = "") -> str:
    return f'<td class="{cls}">{html.escape(text)}</td>' if cls else f"<td>{html.escape(text)}</td>"


def table_html(df: pd.DataFrame) -> str:
    """One aggregated table (``tables.build_table``'s columns) as an HTML ``<table>``."""
    metrics = metric_names(df)
    head1 = "".join(f'<th rowspan="2">{h}</th>' for h in ("Row", "Family", "M_tr", "M_val", "Seeds"))
    head1 += "".join(f'<th colspan="3">{html.escape(METRIC_LABELS.get(m, m))}</th>' for m in metrics)
    head1 += '<th rowspan="2">Note</th>'
    head2 = "<th>ours</th><th>paper</th><th>gap</th>" * len(metrics)
    body = []
    for _, r in df.iterrows():
        run = int(r["n_seeds"]) > 0
        cells = [_td(str(r["label"]), "label"), _td("" if pd.isna(r["family"]) else str(r["family"]), "text"),
                 _td(_int_or_blank(r["m_tr"])), _td(_int_or_blank(r["m_val"])),
                 _td(str(r["seeds"]) if run and not pd.isna(r["seeds"]) else "not run")]
        for m in metrics:
            mean, std, paper, paper_std, gap = (_num(r[f"{m}_{s}"]) for s in
                                                ("mean", "std", "paper", "paper_std", "gap"))
            d = metric_digits(m)
            cells += [_td(_fmt(mean, std, d)), _td(_fmt(paper, paper_std, d)),
                      _td("" if math.isnan(gap) else f"{gap:+.{d}f}", gap_verdict(gap, paper_std, std))]
        cells.append(_td("" if pd.isna(r["note"]) else str(r["note"]), "note"))
        body.append(f'<tr class="{"run" if run else "not-run"}">' + "".join(cells) + "</tr>")
    return (f'<div class="scroll"><table class="results"><thead><tr>{head1}</tr><tr>{head2}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def is_paper_table(df: pd.DataFrame) -> bool:
    """A table of ``tables.build_table`` (rows beside the paper's numbers), not a long-format analysis CSV."""
    return {"label", "n_seeds", "seeds", "note"} <= set(df.columns) and bool(metric_names(df))


def plain_table_html(df: pd.DataFrame) -> str:
    """Any other CSV (e.g. an analysis in long format), as it is."""
    return '<div class="scroll">' + df.to_html(index=False, na_rep="", border=0,
                                               float_format=lambda v: f"{v:.4g}") + "</div>"


def any_table_html(df: pd.DataFrame) -> str:
    return table_html(df) if is_paper_table(df) else plain_table_html(df)


def page(title: str, body: str) -> str:
    """A self-contained HTML page (the report shows each result in an iframe, styles included)."""
    return (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n")


def table_page(df: pd.DataFrame, title: str, description: str = "") -> str:
    intro = f"<p>{html.escape(description)}</p>" if description else ""
    return page(title, intro + (LEGEND if is_paper_table(df) else "") + any_table_html(df))


def png_img(path: str | os.PathLike, alt: str) -> str:
    """An ``<img>`` with the PNG inlined, so the page needs no other file."""
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


@dataclass(frozen=True)
class Artefact:
    """One entry of the overview: a table CSV or a PNG, under the report's category and subcategory."""

    category: str
    subcategory: str   # tables | figures | training
    title: str
    path: str


def overview_page(artefacts: Sequence[Artefact], title: str = "seq-JEPA reproduction: overview") -> str:
    """Every table, figure and training curve on one page, grouped like the report's categories."""
    parts = [LEGEND]
    categories = list(dict.fromkeys(a.category for a in artefacts))
    parts.append("<p>" + " · ".join(f'<a href="#{html.escape(c)}">{html.escape(c)}</a>' for c in categories)
                 + "</p>")
    for cat in categories:
        parts.append(f'<h2 id="{html.escape(cat)}">{html.escape(cat)}</h2>')
        for a in (a for a in artefacts if a.category == cat):
            parts.append(f"<h3>{html.escape(a.subcategory)}: {html.escape(a.title)}</h3>")
            if a.path.endswith(".csv"):
                parts.append(any_table_html(read_table(a.path)))
            else:
                parts.append(png_img(a.path, a.title))
    return page(title, "\n".join(parts))


def _kv_table(rows: Iterable[tuple[str, str]]) -> str:
    return "<table>" + "".join(f'<tr>{_td(k, "label")}{_td(v, "text")}</tr>' for k, v in rows) + "</table>"


RUN_COLUMNS = ("experiment", "method", "variant", "seed", "device", "GPUs", "host", "torch", "CUDA", "commit")


def _run_row(prov: dict, run: dict) -> list[str]:
    hw, pk, git = prov.get("hardware", {}), prov.get("packages", {}), prov.get("git", {})
    commit = (git.get("commit") or "?")[:10] + (" (dirty)" if git.get("dirty") else "")
    return [str(run.get(k, "")) for k in ("experiment", "method", "variant", "seed")] + [
        str(hw.get("device_name", "?")), str(hw.get("gpu_count", "?")), str(hw.get("hostname", "?")),
        str(pk.get("torch", "?")), str(pk.get("cuda") or "–") if hw.get("device_type") == "cuda" else "–", commit]


def provenance_page(config: dict, git: dict, packages: dict, runs: Sequence[tuple[dict, dict]]) -> str:
    """The resolved config, the code version and packages the report was built with, and per run the
    hardware, packages and commit it was trained with (``runs``: (provenance.json, config.json) pairs)."""
    commit = git.get("commit") or "not a git checkout"
    commits = {p.get("git", {}).get("commit") for p, _ in runs}
    mixed = len(commits) > 1 or (commits and git.get("commit") not in commits)
    parts = ["<h2>Code</h2>", _kv_table([("git commit", commit), ("uncommitted changes", str(git.get("dirty")))])]
    if mixed:
        parts.append("<p><b>Runs were trained at other commits than the report's</b> (see the table below).</p>")
    parts += ["<h2>Packages (the report's environment)</h2>",
              _kv_table((k, v or "not installed") for k, v in packages.items()),
              "<h2>Hardware and software of each run</h2>",
              "<table><thead><tr>" + "".join(f"<th>{c}</th>" for c in RUN_COLUMNS) + "</tr></thead><tbody>"
              + "".join("<tr>" + "".join(_td(c, "text") for c in _run_row(p, r)) + "</tr>" for p, r in runs)
              + "</tbody></table>",
              "<h2>Resolved configuration</h2>",
              f"<pre>{html.escape(yaml.safe_dump(config, sort_keys=False))}</pre>"]
    return page("Provenance", "\n".join(parts))
