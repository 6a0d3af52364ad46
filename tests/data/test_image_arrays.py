"""Packed image datasets through the trainer's BatchStream: views drawn on the device, resumable, with the
official actions."""

import numpy as np
import pytest
import torch
from torchvision.transforms.functional import normalize

from seqjepa_core.data import augment, cifar100
from seqjepa_core.data.image_arrays import DatasetFileError, ImageSequences, batch_generator, pack, write_packed
from seqjepa_core.data.loading import BatchStream, DataSpec
from seqjepa_core.data.synthetic_images import generate


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    base = tmp_path_factory.mktemp("packed")
    root = generate("cifar100", base / "C", base / "dl", classes=4, train_per_class=6, test_per_class=1)
    write_packed(cifar100.read_split(root, "train"), base / "train.npz")
    return str(base / "train.npz"), str(root)


def stream(index, kind="crop+jitter+blur", views=4, normalization="paper", action_norm="sequence_l2"):
    spec = DataSpec("cifar100", index[0], index[1], 32, kind, normalization=normalization, action_norm=action_norm)
    return BatchStream(ImageSequences(index[0], num_views=views, seed=3), spec, 8, seed=3, device=torch.device("cpu"))


def test_a_resumed_epoch_draws_the_same_views_and_actions(index):
    full = list(stream(index).epoch(1))
    resumed = list(stream(index).epoch(1, skip=1))
    assert len(full) == 3 and len(resumed) == 2
    for a, b in zip(full[1:], resumed):
        torch.testing.assert_close(a.views, b.views, rtol=0, atol=0)
        torch.testing.assert_close(a.actions, b.actions, rtol=0, atol=0)
    other_epoch = next(iter(stream(index).epoch(2)))
    assert not torch.equal(full[0].latents, other_epoch.latents)


def test_batch_carries_normalised_views_raw_parameters_and_official_actions(index):
    b = next(iter(stream(index).epoch(0)))
    assert b.views.shape == (8, 4, 3, 32, 32) and b.latents.shape == (8, 4, 9) and b.actions.shape == (8, 3, 9)
    torch.testing.assert_close(b.actions, augment.sequence_actions(b.latents, "crop+jitter+blur"))
    mean, std = torch.tensor(cifar100.MEAN).view(3, 1, 1), torch.tensor(cifar100.STD).view(3, 1, 1)
    unit = b.views * std + mean
    assert unit.min() >= -1e-5 and unit.max() <= 1 + 1e-5
    assert (b.latents[:, :-1, 8] > 0).all()  # observed views always blurred
    raw = next(iter(stream(index, "blur", action_norm="raw").epoch(0)))
    torch.testing.assert_close(raw.actions, raw.latents[:, 1:, 8:] - raw.latents[:, :-1, 8:])
    official = next(iter(stream(index, normalization="official").epoch(0)))
    torch.testing.assert_close(official.latents, b.latents)  # same draw, other constants
    assert not torch.allclose(official.views, b.views)


def test_views_are_the_epochs_augmentations_normalised_with_the_datasets_constants(index):
    """A batch's views are ``augment_views`` of its images with the generator of (run seed, epoch, first
    index), normalised as torchvision's ``Normalize`` does: fresh augmentations every epoch, epoch 0's until
    the first ``set_epoch``."""
    s = stream(index)
    idx = [5, 2, 9]
    images = s.dataset.images[idx]
    raw = {"images": images, "labels": s.dataset.labels[idx], "index": torch.tensor(idx)}
    for epoch in (0, 1):
        if epoch:
            s.dataset.set_epoch(epoch)
        got = s.to_batch(raw)
        views, params = augment.augment_views(images, 4, batch_generator(3, epoch, 5, torch.device("cpu")))
        torch.testing.assert_close(got.views, normalize(views, list(cifar100.MEAN), list(cifar100.STD)))
        torch.testing.assert_close(got.latents, params, rtol=0, atol=0)


def test_wrong_image_size_and_bad_arrays_are_errors(index):
    with pytest.raises(ValueError, match="images are 32 px, the config asks for img_size 64"):
        ImageSequences(index[0], num_views=2, img_size=64)
    with pytest.raises(DatasetFileError, match=r"where: \(3,\) labels for 2 images"):
        pack(np.zeros((2, 8, 8, 3), np.uint8), np.zeros(3), ["a"], "where")
