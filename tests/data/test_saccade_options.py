"""The saccade sampler's options: defaults, and every bad value refused with the key named."""

import pytest

from seqjepa_core.data.saccade_options import CHOICES, SaccadeOptions, parse_saccade_options


def test_no_options_are_the_papers_defaults():
    assert parse_saccade_options(None, "x.data") == parse_saccade_options({}, "x.data") == SaccadeOptions()
    assert SaccadeOptions() == SaccadeOptions("saliency", "circle", 16, 32, "paper", "patches")


def test_every_valid_value_is_kept():
    for key, valid in CHOICES.items():
        for value in valid:
            assert getattr(parse_saccade_options({key: value}, "x.data"), key) == value
    opts = parse_saccade_options({"ior_radius": 1, "patch_size": 1}, "x.data")  # 1 is the smallest allowed
    assert (opts.ior_radius, opts.patch_size) == (1, 1)


@pytest.mark.parametrize("key", ["ior_radius", "patch_size"])
@pytest.mark.parametrize("bad", [0, -3, True, 1.5, "32"])
def test_sizes_must_be_positive_integers(key, bad):
    with pytest.raises(ValueError, match=rf"x\.data\.{key}: must be a positive integer, got {bad!r}"):
        parse_saccade_options({key: bad}, "x.data")


def test_options_validation_names_the_key():
    with pytest.raises(ValueError, match=r"x\.data\.ior: 'hex' is not one of"):
        parse_saccade_options({"ior": "hex"}, "x.data")
    with pytest.raises(ValueError, match=r"x\.data: unknown key\(s\) \['iorr'\]"):
        parse_saccade_options({"iorr": "circle"}, "x.data")
