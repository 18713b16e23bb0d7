"""The anti-aliased EfficientNet-Lite0: its strided convolutions low-pass before they subsample, keep the plain
convolution's sample positions and weights, and so start from a plain Lite0's weights."""
from __future__ import annotations

import pytest
import torch
from efficientnet_lite_pytorch.utils import get_same_padding_conv2d

from inference.architectures import AntiAliasedConv2d, build_model


def _plain_strided(kernel: int, channels: int = 4) -> torch.nn.Module:
    torch.manual_seed(3)
    return get_same_padding_conv2d(None)(channels, channels, kernel_size=kernel, stride=2, groups=channels,
                                         bias=False).eval()


@pytest.mark.parametrize("kernel", [3, 5])
@pytest.mark.parametrize("size", [14, 15, 56])
def test_it_keeps_the_plain_convolutions_output_grid_and_its_answer_to_smooth_input(kernel, size):
    plain = _plain_strided(kernel)
    smooth = AntiAliasedConv2d(plain).eval()
    # a plane (linear in x and y): the binomial filter leaves it as it is, so where no padding reaches the two
    # answers are the same, which holds only if the kept samples sit where the plain convolution's do
    ys, xs = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32),
                            indexing="ij")
    plane = (0.3 * xs - 0.7 * ys + 2.0).expand(1, 4, size, size)
    with torch.no_grad():
        want, got = plain(plane), smooth(plane)
    assert got.shape == want.shape == (1, 4, (size + 1) // 2, (size + 1) // 2)
    inner = slice(kernel // 2, want.shape[-1] - kernel // 2 - 1)
    torch.testing.assert_close(got[..., inner, inner], want[..., inner, inner], atol=1e-4, rtol=1e-5)


def test_it_removes_detail_finer_than_its_output_grid():
    # a checkerboard of +-1 (the finest pattern a grid holds) through an identity 3 x 3 kernel: the plain strided
    # convolution keeps every other sample, all +1, as if the film were brighter; filtered first it is gone
    conv = get_same_padding_conv2d(None)(1, 1, kernel_size=3, stride=2, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0, 1, 1] = 1.0
    board = ((torch.arange(16)[:, None] + torch.arange(16)[None, :]) % 2 * 2.0 - 1.0)[None, None]
    with torch.no_grad():
        plain, smooth = conv(board), AntiAliasedConv2d(conv)(board)
    assert torch.all(plain.abs() == 1.0)
    assert smooth[..., :-1, :-1].abs().max() == 0.0  # the last row and column see the replicated border


def test_the_network_loads_a_plain_lite0s_weights_and_filters_its_four_strided_blocks(tmp_path):
    from safetensors.torch import save_file

    plain = build_model("efficientnet_lite0", 2, pretrained=True).eval()  # ImageNet weights: features that vary
    path = tmp_path / "plain.safetensors"
    save_file({k: v.contiguous() for k, v in plain.state_dict().items()}, str(path))
    smooth = build_model("efficientnet_lite0_antialiased", 2, pretrained_path=path).eval()
    assert set(smooth.state_dict()) == set(plain.state_dict())  # the filter is not a weight
    filtered = [i for i, block in enumerate(smooth._blocks) if isinstance(block._depthwise_conv, AntiAliasedConv2d)]
    assert filtered == [1, 3, 5, 11]
    assert torch.equal(smooth._blocks[3]._depthwise_conv.weight, plain._blocks[3]._depthwise_conv.weight)
    torch.manual_seed(0)
    film = torch.rand(2, 1, 224, 224)
    with torch.inference_mode():
        assert smooth(film).shape == (2, 2)
        a, b = plain.extract_features(film), smooth.extract_features(film)
    assert a.shape == b.shape == (2, 1280, 7, 7)
    # the same weights, other features once the strides are filtered (noise is all fine detail)
    assert (a - b).abs().mean() > 0.05 * a.abs().mean()
