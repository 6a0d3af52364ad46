"""``known_all_false``: skip work only where reading the mask costs the host nothing."""

import torch

from seqjepa_core.data.sync import known_all_false


def test_on_the_cpu_it_reads_the_mask():
    assert known_all_false(torch.zeros(5, dtype=torch.bool))
    assert not known_all_false(torch.tensor([False, True, False]))
    assert known_all_false(torch.zeros(0, dtype=torch.bool))


def test_off_the_cpu_it_never_reads_the_mask():
    # a meta tensor has no data: reading it would raise, so a False answer means it was not read
    assert not known_all_false(torch.zeros(5, dtype=torch.bool, device="meta"))
