"""The one model-input pipeline, shared by prediction, evaluation, calibration, the OOD guard and training.

file -> `XRayImage.render()` (decode, modality LUT, default window, MONOCHROME1 inversion: display values in
[0, 1], 1.0 = white) -> `model_input_u8` (the 8-bit rendering; the card's geometry: "squash" stretches to the
input size, "letterbox" keeps the aspect ratio and pads with black; antialiased bilinear resize; rounded to 8
bits) -> `normalise_batch` (the card's fixed low-pass, then the standardisation). The 8-bit array is what the
training cache stores and what the predictor feeds, so every path builds the same input from the same file, bit
for bit.
`heatmap_to_image` maps a model-sized heatmap back onto the original image (the inverse geometry), so Grad-CAM
overlays line up with the anatomy.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from inference.errors import NonFiniteImageError
from inference.model_card import InputSpec  # noqa: F401  (the card's input block; its torch-free home)


@dataclass(frozen=True)
class Placement:
    """Where the resized image sits inside the model input: rows top..top+height, cols left..left+width."""

    top: int
    left: int
    height: int
    width: int


def placement(spec: InputSpec, image_shape: tuple[int, int]) -> Placement:
    """The region of the model input that the original image of `image_shape` (H, W) occupies."""
    h, w = int(image_shape[0]), int(image_shape[1])
    if h < 1 or w < 1:
        raise ValueError(f"image shape must be positive, got {image_shape}")
    if spec.resize_mode == "squash":
        return Placement(0, 0, spec.height, spec.width)
    scale = min(spec.height / h, spec.width / w)
    new_h = min(spec.height, max(1, round(h * scale)))
    new_w = min(spec.width, max(1, round(w * scale)))
    return Placement((spec.height - new_h) // 2, (spec.width - new_w) // 2, new_h, new_w)


def resize_float(array: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of a float HxW array. Pillow's 'F' mode widens the filter when shrinking (antialiasing),
    so a 2,500 px radiograph is averaged down rather than point-sampled."""
    array = np.ascontiguousarray(array, dtype=np.float32)
    if array.shape == (height, width):
        return array.copy()
    resized = Image.fromarray(array, mode="F").resize((width, height), Image.Resampling.BILINEAR)
    return np.array(resized, dtype=np.float32)  # a writable copy (Pillow arrays are read-only)


def jpeg_round_trip(array01: np.ndarray, quality: int) -> np.ndarray:
    """Encode a float [0, 1] gray image as an 8-bit JPEG of `quality` and decode it again."""
    import io

    buffer = io.BytesIO()
    Image.fromarray(np.clip(np.rint(array01 * 255.0), 0, 255).astype(np.uint8), mode="L").save(
        buffer, format="JPEG", quality=int(quality))
    buffer.seek(0)
    return np.asarray(Image.open(buffer).convert("L"), dtype=np.float32) / 255.0


def model_input_u8(display01: np.ndarray, spec: InputSpec) -> np.ndarray:
    """The model input of a rendered image: uint8 [H_in, W_in] (0 = black), the card's geometry, rounded to 8
    bits. Every path that feeds a model starts here (the training cache stores exactly this)."""
    return np.clip(np.rint(model_geometry(display01, spec) * 255.0), 0, 255).astype(np.uint8)


def to_model_array(display01: np.ndarray, spec: InputSpec) -> np.ndarray:
    """`model_input_u8` as float32 in [0, 1] (k / 255, the same division the training batches make)."""
    return model_input_u8(display01, spec).astype(np.float32) / np.float32(255.0)


def rendered_8bit(display01: np.ndarray) -> np.ndarray:
    """Display values in [0, 1] rounded to the 256 grey levels of an 8-bit rendering (float32, k / 255)."""
    return (np.clip(np.rint(np.asarray(display01, dtype=np.float32) * 255.0), 0, 255) / np.float32(255.0)
            ).astype(np.float32)


def model_geometry(display01: np.ndarray, spec: InputSpec) -> np.ndarray:
    """The 8-bit rendering in the card's geometry, before the final 8-bit rounding: float32 [H_in, W_in] in
    [0, 1], letterbox padding black (0)."""
    display01 = np.asarray(display01)
    if display01.ndim != 2:
        raise ValueError(f"expected a gray HxW image, got shape {display01.shape}")
    if not np.isfinite(display01).all():  # NaN survives clip() and would reach the model as an arbitrary call
        raise NonFiniteImageError(None, "the rendered image holds NaN or infinite values; it is not given to the model")
    place = placement(spec, display01.shape)
    # The model sees the 8-bit rendering of the window (what an 8-bit export or a PNG of the same film holds):
    # a 12- or 16-bit film whose window maps within half a grey level of an 8-bit copy then gives that copy's
    # input bit for bit, instead of sub-grey differences that the rounding after the resize turns into noise.
    display01 = rendered_8bit(display01)
    resized = np.clip(resize_float(display01, place.height, place.width), 0.0, 1.0)
    if spec.jpeg_quality is not None and display01.shape != (place.height, place.width):
        resized = jpeg_round_trip(resized, spec.jpeg_quality)
    if spec.resize_mode == "squash":
        return resized
    canvas = np.zeros((spec.height, spec.width), dtype=np.float32)
    canvas[place.top:place.top + place.height, place.left:place.left + place.width] = resized
    return canvas


# Below this per-image spread a film is flat (blank, or one grey): dividing by it would blow up noise.
MIN_PER_IMAGE_STD = 1e-3


def gaussian_low_pass(batch: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of [N, C, H, W] with one fixed `sigma` (pixels), edge pixels repeated; 0 = unchanged."""
    if sigma <= 0:
        return batch
    radius = max(1, int(math.ceil(3.0 * sigma)))
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-0.5 * (offsets / float(sigma)) ** 2)
    kernel = (kernel / kernel.sum()).to(batch.dtype).to(batch.device)
    channels = batch.shape[1]
    out = F.pad(batch, (radius, radius, 0, 0), mode="replicate")
    out = F.conv2d(out, kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)
    out = F.pad(out, (0, 0, radius, radius), mode="replicate")
    return F.conv2d(out, kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)


def normalise_batch(batch01: torch.Tensor, mean: Sequence[float], std: Sequence[float],
                    per_image: bool = False, low_pass_sigma: float = 0.0) -> torch.Tensor:
    """[N, C, H, W] display values in [0, 1] -> the model input: the fixed low-pass (InputSpec.low_pass_sigma),
    then minus `mean`, over `std` (one value or one per channel), or with `per_image` each image's own mean and
    std (InputSpec.per_image)."""
    batch01 = gaussian_low_pass(batch01, low_pass_sigma)
    if per_image:
        mean = batch01.mean(dim=(1, 2, 3), keepdim=True)
        std = batch01.std(dim=(1, 2, 3), keepdim=True, unbiased=False).clamp_min(MIN_PER_IMAGE_STD)
        return (batch01 - mean) / std
    channels = batch01.shape[1]
    mean = torch.tensor(list(mean), dtype=batch01.dtype, device=batch01.device)
    std = torch.tensor(list(std), dtype=batch01.dtype, device=batch01.device)
    if mean.numel() == 1 and channels > 1:
        mean, std = mean.expand(channels), std.expand(channels)
    return (batch01 - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)


def normalise_spec_batch(batch01: torch.Tensor, spec: InputSpec) -> torch.Tensor:
    """`normalise_batch` with the card's settings: the one normalisation every path applies."""
    return normalise_batch(batch01, spec.mean, spec.std, spec.per_image, spec.low_pass_sigma)


def normalise(model_array: np.ndarray | torch.Tensor, spec: InputSpec) -> torch.Tensor:
    """[H, W] (or [N, H, W]) display values -> normalised [C, H, W] (or [N, C, H, W]) float tensor."""
    tensor = torch.as_tensor(np.asarray(model_array, dtype=np.float32))
    batched = tensor.ndim == 3
    if not batched:
        tensor = tensor.unsqueeze(0)
    tensor = tensor.unsqueeze(1).expand(-1, spec.channels, -1, -1)
    out = normalise_spec_batch(tensor, spec).contiguous()
    return out if batched else out[0]


def to_model_tensor(display01: np.ndarray, spec: InputSpec) -> torch.Tensor:
    """A rendered image (float [0, 1], HxW) -> the model input, float32 [1, C, H, W]."""
    return normalise(to_model_array(display01, spec), spec).unsqueeze(0)


def heatmap_to_image(heatmap: np.ndarray, spec: InputSpec, image_shape: tuple[int, int]) -> np.ndarray:
    """Map a heatmap over the model input (any resolution with the input's aspect) back onto the original image.

    Letterbox padding is cropped away before resizing, so the result aligns pixel-for-pixel with the image.
    Returns float32 (H, W) in [0, 1].
    """
    heatmap = np.asarray(heatmap, dtype=np.float32)
    if heatmap.ndim != 2:
        raise ValueError(f"expected an HxW heatmap, got shape {heatmap.shape}")
    if heatmap.shape != (spec.height, spec.width):
        heatmap = resize_float(heatmap, spec.height, spec.width)
    place = placement(spec, image_shape)
    content = heatmap[place.top:place.top + place.height, place.left:place.left + place.width]
    out = resize_float(content, int(image_shape[0]), int(image_shape[1]))
    return np.clip(out, 0.0, 1.0, out=out)
