"""A fine-tune that starts from another bundle's weights feeds them the input they learnt from.

`--pretrained-path` takes a weights file; when that file sits in a bundle, its card says what the network was fed
(size, resize mode, per-image standardisation, low-pass). A run whose own input options differ would fine-tune the
network on films it has never seen the like of (c30 in docs/model-development.md: weights trained on films blurred
by a low-pass of sigma 2, fine-tuned on sharp films, fell from 0.978 to 0.910 AUC on external-a in one epoch), so the
run is refused before any image is read, unless the change is asked for."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from inference.errors import TrainingError
from inference.model_card import InputSpec, read_card_dict

# (card field, where the card holds it, the option that sets it, the card's default when absent). mean/std are moot
# with per-image standardisation and follow from --pretrained; the window is the viewer's.
_COMPARED = (("channels", "input", None, 1), ("height", "input", "img-size", None),
             ("width", "input", "img-size", None), ("resize_mode", "input", "resize-mode", "squash"),
             ("per_image", "normalisation", "per-image-norm", False),
             ("low_pass_sigma", "normalisation", "low-pass-sigma", 0.0))


def start_bundle_input(pretrained_path: str | Path) -> dict[str, Any] | None:
    """The card's `input` block of the bundle the weights file sits in (None: a plain weights file)."""
    folder = Path(pretrained_path).parent
    if not (folder / "model_card.json").is_file():
        return None
    return dict(read_card_dict(folder).get("input") or {})


def input_differences(start: dict[str, Any], spec: InputSpec) -> list[str]:
    """'what: start's value -> this run's value' for each input field that differs."""
    differences = []
    for field, block, option, default in _COMPARED:
        held = start if block == "input" else dict(start.get("normalisation") or {})
        before, after = held.get(field, default), getattr(spec, field)
        if before is not None and before != after:
            differences.append(f"{'--' + option if option else field}: {before} -> {after}")
    return sorted(set(differences))


def check_start_input(pretrained_path: str | Path | None, spec: InputSpec, allow_change: bool) -> None:
    """Raise TrainingError when the start bundle's input differs from this run's and the change was not asked for."""
    if pretrained_path is None or allow_change:
        return
    start = start_bundle_input(pretrained_path)
    if start is None:
        return
    differences = input_differences(start, spec)
    if differences:
        raise TrainingError(
            f"--pretrained-path {pretrained_path}: that bundle's network was trained on other input than this run "
            f"would feed it ({'; '.join(differences)}). Give the start's values, or --allow-start-input-change to "
            "fine-tune it on the new input on purpose")
