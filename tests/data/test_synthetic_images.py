"""The generated CIFAR-100 / Tiny ImageNet images: the knobs the demo trials use leave the defaults' images alone."""

import numpy as np

from seqjepa_core.data.synthetic_images import render

LABELS = np.arange(40) % 10


def draw(**kw):
    return render(LABELS, 32, np.random.default_rng(7), **kw).astype(np.float64)


def test_defaults_are_the_explicit_defaults():
    np.testing.assert_array_equal(draw(), draw(edges=0.0, noise=0.04, cycles=(2.0, 6.0)))


def test_edges_push_the_pattern_towards_its_extremes():
    # tanh hardening moves mid-range wave values outwards: pixels spread further from the image mean
    soft, hard = draw(noise=0.0), draw(noise=0.0, edges=8.0)
    spread = lambda img: np.abs(img - img.mean(axis=(1, 2), keepdims=True)).mean()
    assert spread(hard) > 1.2 * spread(soft)


def test_noise_sets_the_pixel_noise():
    # same rng stream, so the two images differ only by the noise term's scale (up to uint8 rounding/clipping)
    clean, noisy = draw(noise=0.0), draw(noise=0.08)
    assert abs((noisy - clean).std() / 255 - 0.08) < 0.01


def test_cycles_set_the_stripe_frequency():
    # horizontal stripes (layout 0, low band): sign changes down a column grow with the cycle count
    def crossings(img):
        column = img[0, :, 16, 1] - img[0, :, 16, 1].mean()
        return np.count_nonzero(np.diff(np.sign(column)))
    assert crossings(draw(noise=0.0, cycles=(6.0, 6.0))) > 2 * crossings(draw(noise=0.0, cycles=(2.0, 6.0)))
