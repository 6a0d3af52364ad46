"""Path-integration and sequence-length aggregation against hand-computed means, stds and the paper's numbers."""

import numpy as np
import pytest

from seqjepa_core.analysis_tables import paper_seq_length, path_integration_table, seq_length_long


def _res(seed, m_tr, metrics):
    return {"run": {"seed": seed, "m_tr": m_tr}, "metrics": metrics}


def test_path_integration_mean_std_over_seeds_and_paper_values():
    results = [_res(s, 3, [{"metric": f"path_r2_{c}", "m_val": m, "value": v + s / 10}
                           for c, v in (("full", 0.9), ("no_vision", 0.5)) for m in (1, 2)]
                   + [{"metric": "top1", "m_val": 3, "value": 80.0}]) for s in (0, 1, 2)]
    df = path_integration_table(results).set_index(["condition", "m_val"])
    assert list(df.index) == [("full", 1), ("full", 2), ("no_vision", 1), ("no_vision", 2)]
    row = df.loc[("full", 2)]
    assert row.r2_mean == pytest.approx(np.mean([0.9, 1.0, 1.1])) and row.r2_std == pytest.approx(0.1)
    assert row.n_seeds == 3 and row.seeds == "0 1 2"
    assert row.r2_paper == 0.851 and df.loc[("no_vision", 1)].r2_paper == 1.0  # Fig. 6b
    assert row.r2_gap == pytest.approx(row.r2_mean - 0.851)
    one = path_integration_table(results[:1], paper_table=None)
    assert one.r2_std.isna().all() and one.r2_paper.isna().all()
    with pytest.raises(ValueError, match="no path-integration records"):
        path_integration_table([_res(0, 3, [{"metric": "top1", "m_val": 1, "value": 1.0}])])


def test_path_integration_reads_the_saccade_papers_fig6a_encoding():
    results = [_res(0, 4, [{"metric": "path_r2_full", "m_val": 2, "value": 0.5},
                           {"metric": "path_r2_no_action", "m_val": 3, "value": 0.0}])]
    df = path_integration_table(results, "fig6a").set_index(["condition", "m_val"])
    assert df.loc[("full", 2)].r2_paper == 0.972 and df.loc[("no_action", 3)].r2_paper == -0.021


def test_seq_length_long_rows_and_paper_grids():
    results = [_res(0, t, [{"metric": "top1", "m_val": v, "value": 10 * t + v} for v in (1, 3)]
                   + [{"metric": "top1", "m_val": None, "value": -1.0},  # encoder top-1: not a grid cell
                      {"metric": "rel_rot_r2", "m_val": None, "value": t / 10}]) for t in (1, 2)]
    df = seq_length_long(results)
    top1 = df[df.metric == "top1"].set_index(["m_tr", "m_val"]).value.to_dict()
    assert top1 == {(1, 1): 11, (1, 3): 13, (2, 1): 21, (2, 3): 23}
    assert df[df.metric == "rel_rot_r2"].set_index("m_tr").value.to_dict() == {1: 0.1, 2: 0.2}
    fig8 = paper_seq_length("fig8")
    assert len(fig8) == 40 and fig8.set_index(["m_tr", "m_val"]).value[(3, 5)] == 87.4
    fig7 = paper_seq_length("fig7")
    assert fig7[(fig7.metric == "rel_rot_r2")].set_index("m_tr").value.to_dict()[5] == 0.717
    assert fig7[(fig7.metric == "top1") & (fig7.m_tr == 3)].set_index("m_val").value[8] == 87.51
