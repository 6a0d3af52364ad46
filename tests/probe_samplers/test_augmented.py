"""Probe features of the augmentation datasets: z_res on the un-augmented image, pair features, z_AGG with
actions normalised over a training-length window, and relative-parameter targets."""

import pytest
import torch
import torch.nn.functional as F

from seqjepa_core.probe_samplers.augmented import draw_features, relative_targets, sequence_window
from seqjepa_core.data import augment
from seqjepa_core.data.image_arrays import batch_generator
from seqjepa_core.methods import MethodContext, build_method
from seqjepa_core.probes import get_probe_specs

MEAN, STD = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)


def test_features_equal_an_independent_computation_from_the_same_draw():
    torch.manual_seed(0)
    method = build_method("seqjepa", MethodContext(action_dim=9, encoder_width=8, cifar_stem=True, m_tr=2)).eval()
    images = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)
    labels = torch.arange(6)
    f = draw_features(method, images, labels, m_vals=[1, 3], action_kind="crop+jitter+blur", normalise=True,
                      train_views=3, mean=MEAN, std=STD, seed=5, device="cpu", batch_size=4)
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    with torch.no_grad():
        for start, stop in ((0, 4), (4, 6)):  # the draw is seeded per batch
            views, params = augment.augment_views(images[start:stop], 4, batch_generator(5, 0, start, "cpu"))
            enc = lambda x: method.encoder((x - mean) / std)
            torch.testing.assert_close(f["encoder"][start:stop], enc(images[start:stop].float() / 255))
            z = torch.stack([enc(views[:, v]) for v in range(3)], 1)
            torch.testing.assert_close(f["pair"][start:stop], z[:, :2].flatten(1))
            # z_AGG@3: views 0..2, the 2 actions between them, normalised over the 4-view window of M = 3
            unit = F.normalize(params[:, :4], dim=1)
            acts = (unit[:, 1:] - unit[:, :-1])[:, :2]
            torch.testing.assert_close(f["z_agg@3"][start:stop], method.aggregate_encoded(z, acts), atol=1e-5, rtol=1e-4)
            # z_AGG@1: view 0 alone, its window closed by the target view (nothing to difference)
            torch.testing.assert_close(f["z_agg@1"][start:stop], method.aggregate_encoded(z[:, :1], acts[:, :0]),
                                       atol=1e-5, rtol=1e-4)
            # R² targets: views 0 -> 1 of a training-length sequence (views 0, 1 and the target view 3)
            unit3 = F.normalize(params[:, [0, 1, 3]], dim=1)
            torch.testing.assert_close(f["crop"][start:stop], (unit3[:, 1] - unit3[:, 0])[:, :4])
            torch.testing.assert_close(f["blur"][start:stop], (unit3[:, 1] - unit3[:, 0])[:, 8:])
    assert f["label"].tolist() == labels.tolist() and f["jitter"].shape == (6, 4)
    again = draw_features(method, images, labels, m_vals=[1, 3], action_kind="crop+jitter+blur", normalise=True,
                          train_views=3, mean=MEAN, std=STD, seed=6, device="cpu")
    assert not torch.allclose(again["pair"], f["pair"])  # another seed: fresh augmentations


def test_raw_targets_and_the_probe_specs_of_table_2():
    params = torch.rand(3, 5, 9)
    raw = relative_targets(params, normalise=False)
    torch.testing.assert_close(raw["jitter"], params[:, 1, 4:8] - params[:, 0, 4:8])
    unit = relative_targets(params, normalise=True)["blur"]
    torch.testing.assert_close(unit, (params[:, 1, 8:] - params[:, 0, 8:]) / params[:, :, 8:].norm(dim=1))


def test_sequence_windows_end_with_the_target_view_as_the_official_loader_lays_them_out():
    assert sequence_window(4, 3) == [0, 1, 3] and sequence_window(4, 4) == [0, 1, 2, 3]
    assert sequence_window(9, 2) == [0, 8]  # M_tr = 1: the pair is an observed view and the target view
    with pytest.raises(ValueError, match="does not fit"):
        sequence_window(3, 4)


def test_a_two_view_run_pairs_an_observed_view_with_the_target_view():
    torch.manual_seed(0)
    method = build_method("simclr", MethodContext(action_dim=9, encoder_width=8, cifar_stem=True)).eval()
    images = torch.randint(0, 256, (5, 3, 32, 32), dtype=torch.uint8)
    f = draw_features(method, images, torch.arange(5), m_vals=[1, 3], action_kind="crop+jitter+blur",
                      normalise=False, train_views=2, mean=MEAN, std=STD, seed=3, device="cpu")
    views, params = augment.augment_views(images, 2, batch_generator(3, 0, 0, "cpu"))
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    with torch.no_grad():
        z = torch.stack([method.encoder((views[:, v] - mean) / std) for v in range(2)], 1)
    torch.testing.assert_close(f["pair"], z.flatten(1))
    torch.testing.assert_close(f["blur"], params[:, 1, 8:] - params[:, 0, 8:])
    specs = {(s.metric, s.features): s for s in get_probe_specs("cifar100", "crop")}
    assert set(specs) == {("top1", "z_agg"), ("top1", "encoder"), ("crop_r2", "pair"), ("jitter_r2", "pair"),
                          ("blur_r2", "pair")}
    assert specs[("crop_r2", "pair")].head == specs[("jitter_r2", "pair")].head == "mlp"
    assert specs[("blur_r2", "pair")].head == "linear" and specs[("blur_r2", "pair")].epochs == "linear_epochs"


def test_registered_sampler_draws_fresh_augmentations_each_epoch_and_a_fixed_test_set(tmp_path):
    import dataclasses

    from seqjepa_core.config import ProbeConfig, RunConfig, TrainConfig
    from seqjepa_core.data import cifar100
    from seqjepa_core.data.image_arrays import write_packed
    from seqjepa_core.data.synthetic_images import generate
    from seqjepa_core.probe_samplers import SAMPLERS, ProbeContext, build_sampler

    assert {"cifar100", "tinyimagenet"} <= set(SAMPLERS)
    root = generate("cifar100", tmp_path / "C", tmp_path / "dl", classes=3, train_per_class=4, test_per_class=2)
    for split in ("train", "test"):
        write_packed(cifar100.read_split(root, split), tmp_path / f"{split}.npz")
    run = RunConfig("c", "simclr", "default", 0, "cifar100", "crop", 32, 8, True, 1, {}, TrainConfig(),
                    dataclasses.replace(ProbeConfig(), test_draws=3))
    torch.manual_seed(0)
    method = build_method("simclr", MethodContext(action_dim=4, encoder_width=8, cifar_stem=True)).eval()
    ctx = ProbeContext(method, run, str(tmp_path / "train.npz"), str(tmp_path / "test.npz"), str(root),
                       torch.device("cpu"), seed=7)
    sampler = build_sampler("cifar100", ctx)
    a, b = sampler.draw(0), sampler.draw(1)
    assert set(a) == {"encoder", "pair", "label", "crop", "jitter", "blur"}  # no z_AGG for a baseline
    torch.testing.assert_close(a["encoder"], b["encoder"])  # z_res: the un-augmented image
    assert not torch.allclose(a["pair"], b["pair"]) and torch.equal(sampler.draw(1)["crop"], b["crop"])
    test = sampler.test()
    assert test is sampler.test() and len(test["label"]) == 3 * 6
