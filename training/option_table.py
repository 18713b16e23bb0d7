"""Every option of a training run, declared once: its recipe table and key, the `xrayview-train` flag that goes with
it (the table's prefix + the key: `[model] epochs` is `--epochs`, `[guard] layer` is `--guard-layer`), how its text
is read and checked, its help, and the dataclass field it fills (its default comes from that field).

`xrayview-train`'s parser, its recipe files (training.recipe), `--set KEY=VALUE`, and the guard and heatmap tools
(`python -m training.cli_ood_fit`, `python -m training.cli_cam_check`, without the prefix) are all built from these
tables; `run_options(values)` turns the resolved values into the typed `RunOptions` the pipeline runs."""
from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from inference.errors import XRayViewError
from inference.model_card import RESIZE_MODES
from inference.vocabulary import ARCHITECTURES, CAM_METHODS


class OptionError(XRayViewError):
    """An option value (from a flag, a recipe or --set) that cannot be used, with the reason."""


# -------------------------------------------------------------------------------------------------- value readers
def _fractions(text: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(p) for p in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected three comma-separated numbers, got {text!r}") from None
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"expected three comma-separated numbers, got {text!r}")
    return parts  # type: ignore[return-value]


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _positive_int(text: str) -> int:
    value = _whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _image_size(text: str) -> int:
    value = _positive_int(text)
    if not 16 <= value <= 4096:
        raise argparse.ArgumentTypeError(f"must be between 16 and 4096 pixels, got {value}")
    return value


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _positive_float(text: str) -> float:
    value = _number(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {value}")
    return value


def _fraction(text: str) -> float:
    value = _positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {value}")
    return value


def _named_folder(text: str) -> tuple[str, Path]:
    name, sep, folder = text.partition("=")
    if not sep or not name.strip() or not folder.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=DIR, got {text!r}")
    return name.strip(), Path(folder.strip())


def _views(text: str) -> str:
    """Comma-separated names of inference.vocabulary.VIEW_TITLES, each once (kept as that text: a recipe holds it);
    "" for none."""
    from inference.vocabulary import VIEW_TITLES, view_list_problem

    views = [view.strip() for view in text.split(",") if view.strip()]
    if view_list_problem(views) or (text.strip() and not views):
        raise argparse.ArgumentTypeError(f"expected distinct views among {', '.join(VIEW_TITLES)}, got {text!r}")
    return ",".join(views)


def _view_names(text: str) -> tuple[str, ...]:
    return tuple(text.split(",")) if text else ()


def _named_folder_text(text: str) -> str:
    """NAME=FOLDER, kept as text (the guard tool resolves it)."""
    name, sep, folder = text.partition("=")
    if not sep or not folder:
        raise argparse.ArgumentTypeError(f"expected NAME=FOLDER, got {text!r}")
    return text


# -------------------------------------------------------------------------------------------------- the tables
@dataclass(frozen=True)
class Table:
    name: str  # the recipe's TOML table
    title: str  # the --help group
    prefix: str  # flag prefix for xrayview-train


DATA = Table("data", "data", "")
MODEL = Table("model", "model and optimisation", "")
AUGMENTATION = Table("augmentation", "augmentation (chest defaults)", "")
OUTPUT = Table("output", "output", "")
GUARD = Table("guard", "out-of-distribution guard (stage 'fit guard', as python -m training.cli_ood_fit)", "guard-")
HEATMAP = Table("heatmap", "heatmap check (stage 'check heatmaps', as python -m training.cli_cam_check)", "heatmap-")
TABLES = (DATA, MODEL, AUGMENTATION, OUTPUT, GUARD, HEATMAP)

FROM_FIELD = object()  # the default is the `into` field's default

# value kinds: how a recipe value must look (flags and --set give text, read by `parse`)
INT, FLOAT, TEXT, PATH, FLAG, SWITCH, CHOICE, NUMBERS = ("int", "float", "text", "path", "flag", "switch", "choice",
                                                          "numbers")


@dataclass(frozen=True)
class Option:
    key: str  # the recipe key inside its table
    table: Table
    kind: str
    help: str
    into: str | None = None  # "<target>.<field>" the value fills (targets: TARGETS below); None: handled by name
    parse: Callable[[str], Any] | None = None  # text -> value; raises ArgumentTypeError with the reason
    default: Any = FROM_FIELD
    choices: tuple[str, ...] | None = None
    repeat: bool = False  # the flag may be given several times; a list in a recipe
    count: int | None = None  # NUMBERS: how many numbers
    joined: bool = False  # NUMBERS: the flag takes them as one comma-separated argument (parse reads it whole)
    metavar: str | None = None
    run_setting: bool = False  # how this machine runs the recipe, not what it trains (never makes it differ)
    exclusive: str | None = None  # options naming the same group exclude each other
    convert: Callable[[Any], Any] | None = None  # value -> the field's value

    def name(self, prefix: str | None = None) -> str:
        """The flag without its dashes, and the --set key."""
        return (self.table.prefix if prefix is None else prefix) + self.key

    def flag(self, prefix: str | None = None) -> str:
        return "--" + self.name(prefix)


def _o(key: str, table: Table, kind: str, help: str, **kw) -> Option:  # noqa: A002 - argparse's own word
    return Option(key, table, kind, help, **kw)


TRAIN_OPTIONS: tuple[Option, ...] = (
    # ---- data
    _o("data", DATA, PATH, "ROOT/CLASS/* (splits are made) or ROOT/{train,val,test}/CLASS/*", into="data.data",
       default=None),
    _o("val", DATA, PATH, "explicit validation folder DIR/CLASS/*", into="data.val"),
    _o("test", DATA, PATH, "explicit test folder DIR/CLASS/*", into="data.test"),
    _o("split", DATA, NUMBERS, "fractions for the splits the tool makes", into="data.fractions", parse=_fractions,
       count=3, joined=True, metavar="TRAIN,VAL,TEST", convert=tuple),
    _o("split-seed", DATA, INT, "seed of the split alone (default: --seed): runs that differ only in --seed then "
                                "train, validate and test on the same films, as the members of an ensemble must "
                                "(--ensemble-of)", into="data.split_seed", parse=_whole_number),
    _o("group-regex", DATA, TEXT, "regex whose group 'patient' (or group 1) names the patient in a file name; "
                                  "default: Kermany names (personNNNN_, IM-NNNN-)", into="data.group_regex"),
    _o("limit-per-class", DATA, INT, "use at most N images per class and split (quick runs)",
       into="data.limit_per_class", parse=_positive_int),
    _o("img-size", DATA, INT, "model input height and width", into="data.img_size", parse=_image_size),
    _o("resize-mode", DATA, CHOICE, "how a film becomes the model input's square", into="data.resize_mode",
       choices=RESIZE_MODES),
    _o("per-image-norm", DATA, FLAG, "standardise each image by its own mean and std instead of fixed values, so a "
                                     "brightness offset or contrast change of the whole film leaves the model input "
                                     "as it is", into="data.per_image_norm"),
    _o("low-pass-sigma", DATA, FLOAT, "fixed Gaussian low-pass (sigma in model-input pixels) before the "
                                      "normalisation, in training and inference alike (card "
                                      "input.normalisation.low_pass_sigma): takes away the finest detail, where a "
                                      "full-resolution film and its resized copy, noise and JPEG differ",
       into="data.low_pass_sigma", parse=_number, metavar="PX"),
    _o("workers", DATA, INT, "image decoding processes (default: CPU cores)", into="data.decode_workers",
       parse=_whole_number, run_setting=True),
    _o("dataset-name", DATA, TEXT, "name of the data for the model card", into="data.dataset_name"),
    _o("licence", DATA, TEXT, "licence of the data for the model card", into="data.licence"),
    _o("attribution", DATA, TEXT, "attribution of the data for the model card", into="data.attribution"),
    _o("external", DATA, TEXT, "a labelled folder DIR/CLASS/* from elsewhere: measured after every epoch and on the "
                               "final model (history, card's external_validation); never used for weights, threshold "
                               "or temperature (repeatable)", into="data.external", parse=_named_folder, repeat=True,
       metavar="NAME=DIR", convert=list),
    _o("external-selected-on", DATA, TEXT, "what was chosen by looking at the --external sets' numbers (e.g. 'the "
                                           "recipe among 17 candidates and the threshold rule'): the card then calls "
                                           "them selection sets, not independent external validation",
       into="data.external_selected_on", metavar="TEXT"),
    # ---- model and optimisation
    _o("arch", MODEL, CHOICE, "the network", into="train.arch", choices=ARCHITECTURES),
    _o("pretrained", MODEL, SWITCH, "start from local ImageNet weights (default: on where XRayView ships them, "
                                    "efficientnet_lite0)", into="train.pretrained", default=None),
    _o("pretrained-path", MODEL, TEXT, "local state-dict file to start from", into="train.pretrained_path"),
    _o("allow-start-input-change", MODEL, FLAG, "when --pretrained-path is a bundle's weights file, fine-tune them on "
                                                "other input (size, resize mode, per-image standardisation, low-pass) "
                                                "than its card says they learnt from (refused otherwise)",
       into="train.allow_start_input_change"),
    _o("ensemble-of", MODEL, TEXT, "a trained bundle whose network joins an ensemble (give two or more): instead of "
                                   "training, the run averages their logits and measures, calibrates, guards and "
                                   "seals that as its model; every member must come from this run's films, splits "
                                   "and input options (the network is then the members', not --arch's)",
       into="train.ensemble_of", repeat=True, metavar="BUNDLE", convert=tuple),
    _o("views", MODEL, TEXT, "with --ensemble-of (one bundle or more): the network also answers these views of each "
                             "film (mirror, shift_1_1, shift_3_0) and its logits are averaged over the film and them "
                             "(its moves under noise differ by view, so the mean moves less)", into="train.views",
       parse=_views, default="", metavar="VIEW,VIEW", convert=_view_names),
    _o("epochs", MODEL, INT, "training epochs", into="train.epochs", parse=_positive_int),
    _o("batch-size", MODEL, INT, "training batch size", into="train.batch_size", parse=_positive_int),
    _o("lr", MODEL, FLOAT, "peak learning rate (AdamW)", into="train.lr", parse=_positive_float),
    _o("weight-decay", MODEL, FLOAT, "AdamW weight decay", into="train.weight_decay", parse=_number),
    _o("schedule", MODEL, CHOICE, "learning-rate schedule after the warm-up", into="train.schedule",
       choices=("cosine", "onecycle")),
    _o("warmup-epochs", MODEL, FLOAT, "learning-rate warm-up in epochs", into="train.warmup_epochs", parse=_number),
    _o("imbalance", MODEL, CHOICE, "class-imbalance handling", into="train.imbalance",
       choices=("weighted_loss", "sampler", "none")),
    _o("label-smoothing", MODEL, FLOAT, "label smoothing of the cross-entropy", into="train.label_smoothing",
       parse=_number),
    _o("ema-epochs", MODEL, FLOAT, "weight-EMA horizon in epochs (0 = off); the exported weights are the EMA",
       into="train.ema_epochs", parse=_number),
    _o("patience", MODEL, INT, "early stopping after N epochs without a better validation AUC (0 = off)",
       into="train.early_stopping_patience", parse=_whole_number),
    _o("seed", MODEL, INT, "random seed (splits, initialisation, batches, augmentation)", into="train.seed",
       parse=_whole_number),
    _o("lung-focus", MODEL, FLOAT, "chest models: add WEIGHT x the Grad-CAM share outside a lung-field atlas (built "
                                   "from the training split's normal images) to the loss, so heatmaps point at the "
                                   "lungs", into="train.lung_focus", parse=_number, metavar="WEIGHT"),
    _o("map-specificity", MODEL, FLOAT, "with --lung-focus: add WEIGHT x the mean correlation between the pneumonia "
                                        "heatmaps of different films in a batch that the augmentation mirrored "
                                        "alike (inside each film's lung prior), so the map follows the film instead "
                                        "of a fixed spot", into="train.map_specificity", parse=_number,
       metavar="WEIGHT"),
    _o("map-focus", MODEL, FLOAT, "with --lung-focus: add WEIGHT x how much of the frame the pneumonia heatmap fills "
                                  "(mean / max of the map), so the map picks out the part of the film that decides "
                                  "the call instead of covering a whole lung", into="train.map_focus", parse=_number,
       metavar="WEIGHT"),
    _o("linear-probe", MODEL, FLAG, "start fine-tuning from a logistic-regression head fitted on the frozen "
                                    "pretrained features (LP-FT: keeps more of what the pretrained network knew)",
       into="train.linear_probe"),
    _o("wise", MODEL, FLOAT, "export start + ALPHA x (fine-tuned - start), BatchNorm statistics included (WiSE-FT; "
                             "1 = the fine-tuned weights); validation and best-epoch choice use the exported weights",
       into="train.wise_alpha", parse=_fraction, metavar="ALPHA"),
    _o("cutmix", MODEL, FLOAT, "share of batches with CutMix (a box of another film pasted in, labels weighted by "
                               "area): evidence that follows the film, so the heatmap does too", into="train.cutmix",
       parse=_number, metavar="P"),
    _o("consistency", MODEL, FLOAT, "adds WEIGHT x the Jensen-Shannon divergence between the probabilities of each "
                                    "film and a degraded second view of it (noise, JPEG, resampling with a random "
                                    "filter, 8-bit rounding): the same film must get the same answer "
                                    "(training.consistency; AugMix used 12)",
       into="train.consistency", parse=_number, metavar="WEIGHT"),
    _o("consistency-noise", MODEL, FLOAT, "second views: Gaussian noise std up to this (0..1 range; default 2 grey "
                                          "levels)", into="views.noise", parse=_number, metavar="STD"),
    _o("consistency-jpeg-min", MODEL, INT, "second views: JPEG round trip at a quality from Q to 95 on half of them "
                                           "(0 = off)", into="views.jpeg_quality_min", parse=_whole_number,
       metavar="Q"),
    _o("consistency-rescale", MODEL, FLOAT, "second views: down by up to 1+R with a random filter and back up, on "
                                            "half of them", into="views.rescale", parse=_number, metavar="R"),
    _o("consistency-window", MODEL, FLOAT, "second views: a display window off by a gain of up to 1 +- W about mid "
                                           "grey and an offset of up to W, rounded to 8 bits, on half of them "
                                           "(0.004: a 12-bit film through a full-range window)",
       into="views.window", parse=_number, metavar="W"),
    _o("consistency-measure", MODEL, CHOICE, "how the two views' answers are compared: jsd (the Jensen-Shannon "
                                             "divergence of their probabilities, AugMix) or log-odds (their squared "
                                             "log-odds difference: the same weight on sure and unsure films) or "
                                             "relative-log-odds (that difference over the spread of the batch's "
                                             "log-odds: a smaller logit scale, which calibration undoes, does not "
                                             "lower it)",
       into="views.measure", choices=("jsd", "log-odds", "relative-log-odds")),
    _o("consistency-fraction", MODEL, FLOAT, "share of each batch's films that get a second view (the cost of a "
                                             "batch grows by F)", into="views.fraction", parse=_fraction, metavar="F"),
    _o("device", MODEL, TEXT, "auto, cpu, cuda, cuda:N or mps", default="auto", run_setting=True),
    _o("no-amp", MODEL, FLAG, "disable mixed precision on GPU", into="train.amp", default=False,
       convert=lambda off: not off),
    # ---- augmentation
    _o("no-augment", AUGMENTATION, FLAG, "no augmentation (the values below are then ignored)", default=False),
    _o("rotation", AUGMENTATION, FLOAT, "max degrees", into="augment.rotation_deg", parse=_number),
    _o("shift", AUGMENTATION, FLOAT, "max fraction of the size", into="augment.shift_frac", parse=_number),
    _o("zoom", AUGMENTATION, FLOAT, "scale in [1-z, 1+z]", into="augment.zoom_range", parse=_number),
    _o("shear", AUGMENTATION, FLOAT, "max degrees", into="augment.shear_deg", parse=_number),
    _o("brightness", AUGMENTATION, FLOAT, "additive offset in [-b, b]", into="augment.brightness", parse=_number),
    _o("contrast", AUGMENTATION, FLOAT, "factor in [1-c, 1+c]", into="augment.contrast", parse=_number),
    _o("hflip", AUGMENTATION, FLOAT, "probability", into="augment.hflip_prob", parse=_number),
    _o("vflip", AUGMENTATION, FLOAT, "probability (off for chest X-rays)", into="augment.vflip_prob", parse=_number),
    _o("aspect", AUGMENTATION, FLOAT, "aspect-ratio jitter: width/height stretched by up to 1+A either way",
       into="augment.aspect", parse=_number),
    _o("downscale", AUGMENTATION, FLOAT, "resolution jitter: down by a factor up to 1+D, then back up",
       into="augment.downscale", parse=_number),
    _o("blur", AUGMENTATION, FLOAT, "Gaussian blur up to this sigma (px) on half the images",
       into="augment.blur_sigma", parse=_number),
    _o("sharpen", AUGMENTATION, FLOAT, "unsharp-mask amount up to this on the other half", into="augment.sharpen",
       parse=_number),
    _o("gamma", AUGMENTATION, FLOAT, "gamma jitter: up to 1+G either way", into="augment.gamma", parse=_number),
    _o("noise", AUGMENTATION, FLOAT, "additive Gaussian noise, std up to this (0..1 range)", into="augment.noise",
       parse=_number),
    _o("jpeg-quality-min", AUGMENTATION, INT, "JPEG round trip at a quality from this to 95 on half the images "
                                              "(0 = off)", into="augment.jpeg_quality_min", parse=_whole_number),
    # ---- output
    _o("out", OUTPUT, PATH, "bundle folder; an existing one is refused unless --overwrite", into="export.out",
       default=None, run_setting=True),
    _o("overwrite", OUTPUT, FLAG, "if --out exists, move it aside to OUT.previous-<time> (kept, never deleted) once "
                                  "the new bundle is valid", into="export.overwrite", run_setting=True),
    _o("work-dir", OUTPUT, PATH, "checkpoint folder (default: OUT.partial)", into="run.work_dir", run_setting=True),
    _o("resume", OUTPUT, FLAG, "continue from the checkpoint in the work folder", into="run.resume",
       run_setting=True),
    _o("name", OUTPUT, TEXT, "model name for the card (default: the --out folder name)", into="export.name"),
    _o("model-version", OUTPUT, TEXT, "the model's version in its card", into="export.version"),
    _o("description", OUTPUT, TEXT, "the model's description in its card", into="export.description"),
    _o("positive-label", OUTPUT, TEXT, "the finding class of a binary model (default: the non-normal one)",
       into="export.positive_label"),
    _o("target-sensitivity", OUTPUT, FLOAT, "choose the threshold for this validation sensitivity (default: "
                                            "Youden's J)", into="export.target_sensitivity", parse=_fraction,
       exclusive="threshold"),
    _o("miss-cost", OUTPUT, FLOAT, "threshold 1/(1+C) on the calibrated P(positive): a missed finding costs C false "
                                   "alarms (robust to noisy positive labels in validation, which drag a target-"
                                   "sensitivity threshold down)", into="export.miss_cost", parse=_positive_float,
       metavar="C", exclusive="threshold"),
    _o("limitation", OUTPUT, TEXT, "a limitation for the card (repeatable)", into="export.limitations", repeat=True,
       convert=list),
    _o("experimental", OUTPUT, FLAG, "flag the model experimental in its card", into="export.experimental"),
    _o("card-extra", OUTPUT, PATH, "JSON file whose keys are merged into the model card", default=None),
    _o("tta", OUTPUT, FLAG, "also report test metrics with horizontal-flip TTA", into="export.tta_report"),
    _o("quiet", OUTPUT, FLAG, "no progress bar", default=False, run_setting=True),
)

# The guard tool's options (python -m training.cli_ood_fit: without the prefix), and the run's stage switches.
GUARD_TOOL_OPTIONS: tuple[Option, ...] = (
    _o("expected-body-part", GUARD, TEXT, "a DICOM Body Part Examined the model is made for: others are warned "
                                          "(repeatable)", into="guard.expected_body_parts", repeat=True, convert=tuple),
    _o("quantile", GUARD, FLOAT, "the threshold: this quantile of the validation images' distances",
       into="guard.quantile", parse=_fraction),
    _o("components", GUARD, INT, "principal components of the features", into="guard.components",
       parse=_positive_int),
    _o("layer", GUARD, TEXT, "model the pooled output of this module (default: the classifier's input features)",
       into="guard.layer"),
    _o("grid", GUARD, INT, "average the --layer output over each region of a GRID x GRID split of the image (1: over "
                           "the whole image)", into="guard.grid", parse=_positive_int),
    _o("reference-blur", GUARD, NUMBERS, "also fit on training images blurred with a random sigma in [LOW, HIGH] px",
       into="guard.reference_blur", parse=_number, count=2, metavar=("LOW", "HIGH"), convert=tuple),
    _o("measure-ood", GUARD, FLAG, "also measure warning rates on CT/MR, photographs and bone-fracture images",
       into="guard.measure_ood"),
    _o("exclude-default-set", GUARD, TEXT, "leave out default OOD sets whose name contains this word (e.g. fracture; "
                                           "repeatable)", into="guard.exclude_default_sets", repeat=True,
       convert=tuple),
    _o("ood-set", GUARD, TEXT, "measure the warning rate on images of FOLDER (images that must be warned; "
                               "repeatable)", into="guard.ood_sets", parse=_named_folder_text, repeat=True,
       metavar="NAME=FOLDER", convert=tuple),
    _o("held-in-set", GUARD, TEXT, "measure the false-warning rate on images like the training data (repeatable)",
       into="guard.held_in_sets", parse=_named_folder_text, repeat=True, metavar="NAME=FOLDER", convert=tuple),
    _o("set-limit", GUARD, INT, "images per ood-set / held-in-set folder", into="guard.set_limit",
       parse=_positive_int),
    _o("shared-data", GUARD, PATH, "where the default OOD sets are (default: two folders above the data root)",
       into="guard.shared_data"),
)
GUARD_OPTIONS: tuple[Option, ...] = (
    _o("fit", GUARD, FLAG, "fit the out-of-distribution guard after training (the options below; their defaults "
                           "are the guard tool's)", default=False),
    _o("optional", GUARD, FLAG, "when no guard can be fitted (e.g. too few images), write the model without one and "
                                "say why in the summary instead of failing", into="run.guard_optional"),
) + GUARD_TOOL_OPTIONS

HEATMAP_TOOL_OPTIONS: tuple[Option, ...] = (
    _o("split", HEATMAP, TEXT, "the split whose true positives are measured", into="heatmap.split"),
    _o("method", HEATMAP, CHOICE, "the CAM method measured", into="heatmap.method", choices=CAM_METHODS),
    _o("limit", HEATMAP, INT, "at most this many positive cases", into="heatmap.limit", parse=_positive_int),
    _o("sheet", HEATMAP, PATH, "write a contact sheet PNG of the first cases", into="heatmap.sheet",
       run_setting=True),
    _o("detail-layer", HEATMAP, TEXT, "measure the heatmap as the product of the card's target layer and LAYER (e.g. "
                                      "_blocks.10); the card then draws it so", into="heatmap.detail_layer",
       metavar="LAYER", exclusive="detail layer"),
    _o("no-detail-layer", HEATMAP, FLAG, "measure the target layer's map alone (and drop a card's detail layer)",
       into="heatmap.no_detail_layer", exclusive="detail layer"),
    _o("target-power", HEATMAP, FLOAT, "with detail-layer: raise the target layer's map to P before the product "
                                       "(default 1)", into="heatmap.target_power", parse=_number, metavar="P"),
)
HEATMAP_OPTIONS: tuple[Option, ...] = (
    _o("check", HEATMAP, FLAG, "measure where the heatmaps fall on the true-positive test films and record it in "
                               "the card (training.cam_check; the options below)", default=False),
) + HEATMAP_TOOL_OPTIONS

OPTIONS: tuple[Option, ...] = TRAIN_OPTIONS + GUARD_OPTIONS + HEATMAP_OPTIONS
BY_NAME: dict[str, Option] = {option.name(): option for option in OPTIONS}
REQUIRED = ("data", "out")


# -------------------------------------------------------------------------------------------------- defaults
def _targets() -> dict[str, type]:
    from training.augment import AugmentConfig
    from training.cam_check import HeatmapCheckOptions
    from training.consistency import DegradeConfig
    from training.ood_fit import GuardOptions
    from training.run_options import ExportOptions, RunOptions
    from training.stages.prepare import DataOptions
    from training.trainer import TrainConfig

    return {"train": TrainConfig, "augment": AugmentConfig, "views": DegradeConfig, "data": DataOptions,
            "export": ExportOptions, "guard": GuardOptions, "heatmap": HeatmapCheckOptions, "run": RunOptions}


def default_of(option: Option) -> Any:
    if option.default is not FROM_FIELD:
        return option.default
    target, field_name = option.into.split(".")
    field = next(f for f in dataclasses.fields(_targets()[target]) if f.name == field_name)
    if field.default is not dataclasses.MISSING:
        value = field.default
    elif field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
    else:
        return None
    return list(value) if option.repeat or option.kind == NUMBERS and value is not None else value


def defaults(options: tuple[Option, ...] = OPTIONS) -> dict[str, Any]:
    return {option.name(): default_of(option) for option in options}


# -------------------------------------------------------------------------------------------------- argparse
def add_options(parser: argparse.ArgumentParser, options: tuple[Option, ...], prefix: str | None = None,
                suppress_defaults: bool = False) -> None:
    """The options as flags, one argparse group per table. `prefix` replaces the tables' own (the tools use "");
    with `suppress_defaults` only the flags given appear in the parsed namespace (a recipe fills the rest)."""
    groups: dict[str, Any] = {}
    exclusive: dict[str, Any] = {}
    for option in options:
        group = groups.get(option.table.name)
        if group is None:
            group = groups[option.table.name] = parser.add_argument_group(option.table.title)
        if option.exclusive:
            if option.exclusive not in exclusive:
                exclusive[option.exclusive] = group.add_mutually_exclusive_group()
            group = exclusive[option.exclusive]
        default = default_of(option)
        shown = "" if default in (None, False, [], ()) else f" (default: {_flag_text(default)})"
        kwargs: dict[str, Any] = {"dest": option.name(prefix), "help": option.help + shown}
        if suppress_defaults:
            kwargs["default"] = argparse.SUPPRESS
        elif option.kind != SWITCH:
            kwargs["default"] = default
        if option.kind == FLAG:
            group.add_argument(option.flag(prefix), action="store_true", **kwargs)
            continue
        if option.kind == SWITCH:
            kwargs.setdefault("default", default)
            group.add_argument(option.flag(prefix), action=argparse.BooleanOptionalAction, **kwargs)
            continue
        kwargs["type"] = Path if option.kind == PATH else (option.parse or str)
        if option.choices:
            kwargs["choices"] = option.choices
        if option.metavar:
            kwargs["metavar"] = option.metavar
        if option.repeat:
            kwargs["action"] = "append"
            if not suppress_defaults:
                kwargs["default"] = []
        if option.kind == NUMBERS and not option.joined:
            kwargs["nargs"] = option.count
        group.add_argument(option.flag(prefix), **kwargs)


def _flag_text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def given_values(namespace: argparse.Namespace, options: tuple[Option, ...], prefix: str | None = None
                 ) -> dict[str, Any]:
    """The table options found in a parsed namespace, by their canonical name (the xrayview-train flag)."""
    found = vars(namespace)
    values = {}
    for option in options:
        if option.name(prefix) in found:
            value = found[option.name(prefix)]
            values[option.name()] = list(value) if isinstance(value, tuple) and option.kind == NUMBERS else value
    return values


# -------------------------------------------------------------------------------------------------- typed options
def _fields(values: dict[str, Any], options: tuple[Option, ...]) -> dict[str, dict[str, Any]]:
    by_target: dict[str, dict[str, Any]] = {}
    for option in options:
        if option.into is None:
            continue
        target, field_name = option.into.split(".")
        value = values.get(option.name(), default_of(option))
        if option.convert is not None and value is not None:
            value = option.convert(value)
        by_target.setdefault(target, {})[field_name] = value
    return by_target


def guard_options(values: dict[str, Any]):
    """training.ood_fit.GuardOptions from the guard tool's options."""
    from training.ood_fit import GuardOptions

    return GuardOptions(**_fields(values, GUARD_TOOL_OPTIONS).get("guard", {}))


def heatmap_options(values: dict[str, Any], prefix: str = HEATMAP.prefix):
    """training.cam_check.HeatmapCheckOptions from the heatmap tool's options; OptionError, naming the flags (with
    `prefix`), when they cannot be measured together."""
    from training.cam_check import HeatmapCheckOptions, check_options_problem

    options = HeatmapCheckOptions(**_fields(values, HEATMAP_TOOL_OPTIONS).get("heatmap", {}))
    problem = check_options_problem(options)
    if problem:
        raise OptionError(problem.replace("--", "--" + prefix))
    return options


def _card_extra(path: Path | None) -> dict:
    if path is None:
        return {}
    try:
        extra = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise OptionError(f"{path}: cannot read the card-extra JSON ({exc})") from None
    if not isinstance(extra, dict):
        raise OptionError(f"{path}: card-extra must hold a JSON object")
    return extra


def exclusive_problem(values: dict[str, Any], options: tuple[Option, ...] = OPTIONS) -> str | None:
    groups: dict[str, list[str]] = {}
    for option in options:
        value = values.get(option.name())
        if option.exclusive and value not in (None, False):
            groups.setdefault(option.exclusive, []).append(option.name())
    clash = next((names for names in groups.values() if len(names) > 1), None)
    return None if clash is None else f"{' and '.join(clash)} exclude each other: give one"


def train_config(values: dict[str, Any]):
    """training.trainer.TrainConfig from option values (defaults where missing)."""
    from inference.vocabulary import ARCHITECTURE_INFO
    from training.augment import AugmentConfig
    from training.consistency import DegradeConfig
    from training.trainer import TrainConfig

    fields = _fields(values, TRAIN_OPTIONS)
    train = fields["train"]
    if train["views"] and not train["ensemble_of"]:
        raise OptionError("--views answers over views of each film with networks trained already: give the bundle "
                          "(or bundles) with --ensemble-of")
    if train["ensemble_of"]:  # the members' networks, trained already
        from inference.vocabulary import with_views
        from training.ensemble import ensemble_arch

        arch = with_views(ensemble_arch(train["ensemble_of"], bool(train["views"])), train["views"])
        train["arch"], train["pretrained"], train["pretrained_path"] = arch, False, None
    if train["pretrained"] is None:  # by default, start from ImageNet weights where XRayView ships them
        info = ARCHITECTURE_INFO.get(train["arch"])
        train["pretrained"] = bool(info and info.pretrained_weights)
    train["pretrained"] = bool(train["pretrained"] and not train["pretrained_path"])
    augment = AugmentConfig.none() if values.get("no-augment") else AugmentConfig(**fields["augment"])
    return TrainConfig(**train, augment=augment, consistency_views=DegradeConfig(**fields["views"]))


def run_options(values: dict[str, Any], command: str = "", recipe: Any = None):
    """training.run_options.RunOptions from resolved values (every name of OPTIONS; defaults where missing)."""
    from training.run_options import ExportOptions, RunOptions
    from training.stages.prepare import DataOptions

    problem = exclusive_problem(values)
    if problem:
        raise OptionError(problem)
    fields = _fields(values, OPTIONS)
    config = train_config(values)
    export = ExportOptions(**fields["export"], card_extra=_card_extra(values.get("card-extra")), command=command)
    guard = guard_options(values) if values.get("guard-fit") else None
    heatmaps = heatmap_options(values) if values.get("heatmap-check") else None
    return RunOptions(config=config, data=DataOptions(**fields["data"]), export=export, guard=guard,
                      heatmaps=heatmaps, recipe=recipe, **fields["run"])
