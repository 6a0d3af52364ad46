import torch
import torchvision

from seqjepa_core.models.encoder import build_encoder


def test_width64_is_torchvision_resnet18_without_fc():
    ours = build_encoder(width=64)
    ref = torchvision.models.resnet18(zero_init_residual=True)
    ref.fc = torch.nn.Identity()
    ref_sd = ref.state_dict()
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in ref_sd.items()}
    ours.load_state_dict(ref_sd)
    ours.eval(), ref.eval()
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(ours(x), ref(x))
    assert ours.out_dim == 512


def test_zero_init_residual_and_narrow_width():
    enc = build_encoder(width=16, cifar_stem=True)
    assert enc.out_dim == 128 and enc.conv1.kernel_size == (3, 3)
    assert all(float(b.bn2.weight.abs().sum()) == 0 for layer in (enc.layer1, enc.layer4) for b in layer)
    assert enc(torch.randn(3, 3, 32, 32)).shape == (3, 128)
