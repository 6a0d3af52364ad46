"""STL-10's probe sampler: fresh fixations each probe epoch, fixed test draws, path-integration features."""

import numpy as np
import pytest
import torch
from torchvision.transforms.functional import normalize

from seqjepa_core.config import ProbeConfig
from seqjepa_core.data.fixations import FixationSampler
from seqjepa_core.data.saccade_options import SaccadeOptions
from seqjepa_core.data.stl10 import MEAN, STD, SaccadeImages, batch_generator, build_index, write_index
from seqjepa_core.data.synthetic_stl10 import generate
from seqjepa_core.methods import build_method
from seqjepa_core.methods.base import MethodContext
from seqjepa_core.config import RunConfig, TrainConfig
from seqjepa_core.probe_samplers import ProbeContext, build_sampler
from seqjepa_core.path_integration import CONDITIONS, path_features, path_key
from seqjepa_core.probe_samplers.stl10 import draw_features
from seqjepa_core.probes import get_probe_specs, run_probes

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("stlp")
    generate(base / "stl", base / "sal", train_per_class=3, test_per_class=2, unlabeled=0, seed=0)
    for split in ("train", "test"):
        write_index(build_index(base / "stl", base / "sal", split), base / f"{split}.npz")
    torch.manual_seed(0)
    method = build_method("seqjepa", MethodContext(action_dim=2, encoder_width=4, cifar_stem=True, m_tr=2),
                          {"action_embed_dim": 8, "predictor_hidden": 16, "num_heads": 1}).eval()  # frozen, as evaluate.py
    sampler = FixationSampler(SaccadeOptions(patch_size=16, ior_radius=8), 96, MEAN, STD)
    return method, SaccadeImages(base / "train.npz"), SaccadeImages(base / "test.npz"), sampler


def draw(setup, epoch, seed=0):
    method, train, _, sampler = setup
    return draw_features(method, train, sampler, 4, [1, 3], [1, 2], seed, epoch, CPU, batch_size=7)


def test_draws_are_fresh_per_epoch_and_reproducible(setup):
    a, a2, b = draw(setup, 0), draw(setup, 0), draw(setup, 1)
    assert set(a) >= {"encoder", "pair", "z_agg@1", "z_agg@3", "path_full@1", "path_no_action@2", "path_no_vision@2", "label"}
    for k in a:
        assert torch.equal(a[k], a2[k])
    assert not torch.equal(a["latents"], b["latents"]) and torch.equal(a["label"], b["label"])
    assert a["encoder"].shape[0] == len(setup[1]) and a["pair"].shape[1] == 2 * a["encoder"].shape[1]


def test_path_integration_features_are_the_shared_definition(setup):
    method, train, _, sampler = setup
    f = draw(setup, 0)
    # the same draw, re-encoded: the sampler hands path_features the encoded patches and the fixation actions
    raw = [train.batch(torch.arange(s, min(s + 7, len(train))).numpy(), CPU) for s in range(0, len(train), 7)]
    batches = [sampler.batch(im, sal, lab, 4, batch_generator(CPU, 0, 0, k)) for k, (im, sal, lab) in enumerate(raw)]
    with torch.no_grad():
        ref = [path_features(method, method.encode_views(b.views), b.actions, [1, 2]) for b in batches]
    for key in ref[0]:
        torch.testing.assert_close(f[key], torch.cat([r[key] for r in ref]))
    # M = 1: the target x_1 -> x_2 is a_1, which the full input carries: a least-squares fit is exact
    x = torch.cat([f["path_full@1"], torch.ones(len(f["label"]), 1)], 1).double()
    y = (f["latents"][:, 1] - f["latents"][:, 0]).double()
    torch.testing.assert_close(x @ torch.linalg.lstsq(x, y).solution, y, atol=1e-6, rtol=0)


def test_probes_draw_every_epoch_and_score_fixed_test_draws(setup):
    _, _, test, _ = setup
    probe = ProbeConfig(m_val=(1, 3), path_m_val=(1, 2), epochs=3, linear_epochs=2, batch_size=8, test_draws=2)
    sampler = _sampler(setup, probe)
    seen = []
    draw = sampler.draw
    sampler.draw = lambda epoch: seen.append(epoch) or draw(epoch)
    t1, t2 = sampler.test(), sampler.test()
    assert t1 is t2 and len(t1["label"]) == 2 * len(test)           # two seeded draws per test image
    assert not torch.equal(t1["latents"][: len(test)], t1["latents"][len(test):])
    records = run_probes(sampler, get_probe_specs("stl10", "position"), probe, CPU, seed=0)
    assert seen == [0, 1, 2]
    by = {(r["metric"], r["m_val"]): r for r in records}
    assert by[("top1", 3)]["epochs"] == 3 and by[("position_r2", None)]["epochs"] == 2
    assert {("path_r2_full", 1), ("path_r2_no_action", 2), ("path_r2_no_vision", 2), ("top1", None)} <= set(by)
    assert all(np.isfinite(r["value"]) for r in records) and by[("top1", 1)]["n_test"] == 2 * len(test)


def _sampler(setup, probe, **data):
    method, train, test, _ = setup
    run = RunConfig(experiment="stl10", method="seqjepa", variant="v", seed=0, dataset="stl10", actions="position",
                    img_size=16, encoder_width=4, cifar_stem=True, m_tr=2, params={}, train=TrainConfig(),
                    probe=probe, data={"patch_size": 16, "ior_radius": 8, **data})
    return build_sampler("stl10", ProbeContext(method, run, train.index_path, test.index_path, "", CPU, seed=5,
                                               batch_size=7))


def test_a_run_trained_on_full_images_is_probed_on_its_encoding_of_the_full_image(setup):
    """Table 3's invariant reference (``views: augmentations``): its ``encoder`` features are the frozen encoder
    of the normalised, un-augmented full images, the same every draw; positions are still probed on fresh
    fixation patches."""
    method, train, test, _ = setup
    sampler = _sampler(setup, ProbeConfig(m_val=(1,), path_m_val=(), test_draws=1), views="augmentations")
    a, b = sampler.draw(0), sampler.draw(1)
    for data, feats in ((train, a), (test, sampler.test())):
        images = torch.from_numpy(np.ascontiguousarray(data.images[:])).float() / 255
        with torch.no_grad():
            expected = method.encoder(normalize(images, list(MEAN), list(STD)))
        torch.testing.assert_close(feats["encoder"], expected, atol=1e-5, rtol=1e-5)
    assert torch.equal(a["encoder"], b["encoder"]) and not torch.equal(a["latents"], b["latents"])
    assert a["pair"].shape == (len(train), 2 * a["encoder"].shape[1])


def test_path_integration_beyond_the_longest_m_val_draws_enough_views(setup):
    """Path integration at M needs M + 1 views (x_{M+1} is the target), more than z_AGG at M_val = 1 needs."""
    f = _sampler(setup, ProbeConfig(m_val=(1,), path_m_val=(3,), test_draws=1)).draw(0)
    assert f["actions"].shape[1] == 3 and {path_key(c, 3) for c in CONDITIONS} <= set(f)
