"""HTML tables of the report: which gap cells are coloured, rows not run, the overview and provenance pages."""

import base64
import math
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from seqjepa_core.report import Artefact, overview_page, provenance_page, table_html, table_page
from seqjepa_core.tables import build_table, write_csv

PAPER = pd.DataFrame([  # table, label, family, metric, value, std, note
    ("t", "with std", "invariant", "top1", 80.0, 0.5, ""),
    ("t", "with std", "invariant", "rel_rot_r2", 0.50, 0.2, ""),
    ("t", "no std", "equivariant", "top1", 80.0, math.nan, ""),
    ("t", "no std", "equivariant", "rel_rot_r2", 0.50, math.nan, ""),
    ("t", "one seed", "equivariant", "top1", 80.0, math.nan, ""),
    ("t", "paper only", "equivariant", "top1", 70.0, math.nan, "not run: released weights"),
], columns=["table", "label", "family", "metric", "value", "std", "note"])
SPEC = {"experiment": "e", "paper_tables": ["t"], "rows": [
    {"label": "with std", "method": "a"}, {"label": "no std", "method": "b"},
    {"label": "one seed", "method": "c"}]}


def probe_results(rng):
    out = []
    for method, seeds in (("a", 3), ("b", 3), ("c", 1)):
        for seed in range(seeds):
            out.append({"run": {"experiment": "e", "method": method, "variant": "default", "seed": seed, "m_tr": 1},
                        "metrics": [{"metric": "top1", "representation": "encoder", "m_val": None,
                                     "value": 80 + rng.normal(0, 1.0)},
                                    {"metric": "rel_rot_r2", "representation": "pair", "m_val": None,
                                     "value": 0.5 + rng.normal(0, 0.05)}]})
    return out


class Cells(HTMLParser):
    """Rows of <td> (class, text) and each row's class."""

    def __init__(self):
        super().__init__()
        self.rows, self.row_classes, self._cell = [], [], None

    def handle_starttag(self, tag, attrs):
        if tag == "tr" and dict(attrs).get("class"):
            self.row_classes.append(dict(attrs)["class"])
            self.rows.append([])
        elif tag == "td":
            self._cell = [dict(attrs).get("class", ""), ""]

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[1] += data

    def handle_endtag(self, tag):
        if tag == "td":
            self.rows[-1].append(tuple(self._cell))
            self._cell = None


@pytest.mark.parametrize("seed", range(5))
def test_gap_cells_coloured_where_the_gap_exceeds_the_papers_std_else_the_seed_spread(seed):
    df = build_table(SPEC, probe_results(np.random.default_rng(seed)), paper=PAPER)
    cells = Cells()
    cells.feed(table_html(df))
    assert len(cells.rows) == len(df) == 4
    for (_, r), row in zip(df.iterrows(), cells.rows):
        for i, metric in enumerate(("top1", "rel_rot_r2")):
            gap_class, gap_text = row[5 + 3 * i + 2]
            gap, paper_std, std = r[f"{metric}_gap"], r[f"{metric}_paper_std"], r[f"{metric}_std"]
            spread = paper_std if not pd.isna(paper_std) else std
            if pd.isna(gap) or pd.isna(spread):
                expected = ""
            else:
                expected = "outside" if abs(gap) > spread else "within"
            assert gap_class == expected, (r["label"], metric, gap, paper_std, std)
            if not pd.isna(gap):
                assert float(gap_text) == pytest.approx(gap, abs=10 ** -(2 if metric == "top1" else 3))


def test_rows_not_run_are_marked_and_one_seed_gaps_are_left_unjudged():
    df = build_table(SPEC, probe_results(np.random.default_rng(0)), paper=PAPER)
    cells = Cells()
    cells.feed(table_html(df))
    by_label = {row[0][1]: (cls, row) for cls, row in zip(cells.row_classes, cells.rows)}
    cls, row = by_label["paper only"]
    assert cls == "not-run" and row[4][1] == "not run" and "released weights" in row[-1][1]
    assert row[6][1] == "70.00"  # the paper's number is still shown
    assert all(c[0] == "" for c in by_label["one seed"][1][7::3])  # single seed, no paper std: no verdict
    assert by_label["with std"][0] == "run"


def test_table_page_is_a_complete_document_with_the_legend():
    df = build_table(SPEC, probe_results(np.random.default_rng(0)), paper=PAPER)
    page = table_page(df, "Table 1 & more", "experiment e")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "Table 1 &amp; more" in page and "|gap| &gt; spread" in page


def test_overview_inlines_tables_and_pngs(tmp_path):
    df = build_table(SPEC, probe_results(np.random.default_rng(0)), paper=PAPER)
    write_csv(df, tmp_path / "t.csv")
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(40))
    (tmp_path / "f.png").write_bytes(png)
    html = overview_page([Artefact("Setting B", "tables", "t", str(tmp_path / "t.csv")),
                          Artefact("Setting A", "figures", "f", str(tmp_path / "f.png"))])
    assert html.count("<table") == 1 and base64.b64encode(png).decode() in html
    assert html.index('id="Setting B"') < html.index('id="Setting A"')  # the given order, not sorted


def test_provenance_page_lists_each_runs_hardware_and_flags_other_commits():
    prov = {"hardware": {"device_name": "NVIDIA H100 80GB HBM3", "gpu_count": 4, "hostname": "gpu017"},
            "packages": {"torch": "2.5.1", "cuda": "12.4"}, "git": {"commit": "a" * 40, "dirty": False}}
    run = {"experiment": "3diebench", "method": "seqjepa", "variant": "mtr3", "seed": 2}
    html = provenance_page({"results_dir": "results"}, {"commit": "b" * 40, "dirty": True},
                           {"torch": "2.5.1", "kornia": None}, [(prov, run)])
    assert "NVIDIA H100 80GB HBM3" in html and "gpu017" in html and "aaaaaaaaaa" in html
    assert "other commits than the report" in html and "results_dir: results" in html
    assert "not installed" in html
    same = provenance_page({}, {"commit": "a" * 40, "dirty": False}, {}, [(prov, run)])
    assert "other commits than the report" not in same


def test_a_long_format_csv_is_shown_as_it_is():
    df = pd.DataFrame({"m_tr": [1, 1, 3], "m_val": [1, 3, 3], "metric": ["top1"] * 3, "value": [50.0, 55.5, 61.25]})
    html = table_page(df, "seq-length")
    assert "|gap|" not in html  # no paper-comparison legend for a table without paper columns
    assert html.count("<tr") == 4 and all(f"<td>{v}</td>" in html for v in ("50", "55.5", "61.25", "top1"))
