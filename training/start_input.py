"""A fine-tune that starts from another bundle's weights feeds them the input they learnt from.

`--pretrained-path` takes a weights file; when that file sits in a bundle, its card says what the network was fed
(size, resize mode, per-image standardisation, low-pass). A run whose own input options differ would fine-tune the
network on films it has never seen the like of (c30 in docs/model-development.md: weights trained on films blurred
by a low-pass of sigma 2, fine-tuned on sharp films, fell from 0.978 to 0.910 AUC on external-a in one epoch), so the
run is refused before any image is read, unless the change is asked for."""
from __future__ import annotations

from pathlib import Path

from inference.errors import TrainingError
from inference.model_card import InputSpec, read_card_dict

# (InputSpec field, the option that sets it). mean/std are moot with per-image standardisation and follow from
# --pretrained; the window is the viewer's.
_COMPARED = (("channels", None), ("height", "img-size"), ("width", "img-size"), ("resize_mode", "resize-mode"),
             ("per_image", "per-image-norm"), ("low_pass_sigma", "low-pass-sigma"))


def start_bundle_input(pretrained_path: str | Path) -> InputSpec | None:
    """The input of the bundle the weights file sits in, as its card says (None: a plain weights file)."""
    folder = Path(pretrained_path).parent
    if not (folder / "model_card.json").is_file():
        return None
    return InputSpec.from_card(read_card_dict(folder))


def input_differences(start: InputSpec, spec: InputSpec) -> list[str]:
    """'what: start's value -> this run's value' for each input field that differs."""
    return sorted({f"{'--' + option if option else field}: {getattr(start, field)} -> {getattr(spec, field)}"
                   for field, option in _COMPARED if getattr(start, field) != getattr(spec, field)})


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
