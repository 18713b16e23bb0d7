"""Recipes and the option table: every xrayview-train flag is one recipe key (declared once, the guard and heatmap
tools' flags too), the shipped recipes are exactly the flags the training scripts ran, --set and recipe files are
checked with errors that name the key or the file, and every run records its recipe."""
from __future__ import annotations

import argparse
import hashlib
import json
import re
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT
from training.option_table import (BY_NAME, GUARD_TOOL_OPTIONS, HEATMAP_TOOL_OPTIONS, OPTIONS, OptionError,
                                   defaults, given_values, guard_options, heatmap_options)
from training.recipe import parse_assignment, parse_recipe, render_recipe, resolve

CHEST_RECIPE = PROJECT_ROOT / "training" / "recipes" / "chest-xray-pneumonia.toml"
FRACTURE_RECIPE = PROJECT_ROOT / "training" / "recipes" / "bone-fracture-experimental.toml"

# scripts/train_chest_model.sh before it became a wrapper of the recipe: its three commands' flags
CHEST_TRAIN_FLAGS = [
    "--data", "../shared/data/chest-xray-pneumonia/train",
    "--arch", "efficientnet_lite0", "--pretrained", "--img-size", "224", "--resize-mode", "squash", "--per-image-norm",
    "--low-pass-sigma", "2.0",
    "--epochs", "6", "--batch-size", "32", "--lr", "2e-4", "--warmup-epochs", "0.5", "--schedule", "cosine",
    "--label-smoothing", "0.05", "--ema-epochs", "1", "--patience", "0", "--lung-focus", "1.0",
    "--map-specificity", "0.4",
    "--rotation", "10", "--shift", "0.06", "--zoom", "0.15", "--shear", "5", "--brightness", "0.15", "--contrast", "0.2",
    "--hflip", "0.5", "--aspect", "0.25", "--downscale", "1.0", "--blur", "1.0", "--sharpen", "1.0", "--gamma", "0.3",
    "--noise", "0.02", "--jpeg-quality-min", "40",
    "--linear-probe", "--seed", "20261122", "--tta", "--miss-cost", "2",
    "--external", "Kermany test half A=../shared/data/chest-xray-pneumonia/external-a",
    "--name", "chest-xray-pneumonia", "--model-version", "2.2.0-base",
    "--description", "Pediatric chest X-ray: NORMAL vs PNEUMONIA (EfficientNet-Lite0, 224 px, squash)",
]
CHEST_GUARD_FLAGS = [
    "--expected-body-part", "CHEST", "--layer", "_blocks.15", "--grid", "3", "--components", "192", "--measure-ood",
    "--exclude-default-set", "fracture",
    "--ood-set", "bone-fracture radiographs, every image of train and val (shared/data/bone-fracture)"
                 "=../shared/data/bone-fracture",
    "--held-in-set", "full-resolution chest X-rays (shared/data/samples/chest-xray-fullres; held-in source, "
                     "1,000-2,900 px)=../shared/data/samples/chest-xray-fullres",
    "--set-limit", "5000", "--quantile", "0.999",
]
CHEST_HEATMAP_FLAGS = ["--detail-layer", "_blocks.10", "--target-power", "2"]  # and --write-card
# scripts/train_fracture_model.sh likewise
FRACTURE_TRAIN_FLAGS = [
    "--data", "runs/fracture/data",
    "--arch", "efficientnet_lite0", "--pretrained", "--img-size", "224", "--resize-mode", "letterbox",
    "--epochs", "4", "--batch-size", "32", "--lr", "5e-4", "--warmup-epochs", "0.5", "--schedule", "cosine",
    "--label-smoothing", "0.05", "--ema-epochs", "1", "--patience", "0",
    "--rotation", "15", "--shift", "0.06", "--zoom", "0.15", "--shear", "5", "--brightness", "0.15", "--contrast", "0.2",
    "--hflip", "0.5", "--vflip", "0.0",
    "--seed", "20261122", "--tta", "--positive-label", "fractured",
    "--name", "bone-fracture-experimental", "--model-version", "0.1.0", "--experimental",
    "--dataset-name", "Bone fracture multi-region X-ray (Kaggle public copy, de-duplicated, group split)",
    "--licence", "ODC-By 1.0 (declared, unverified)",
    "--attribution", "Fracture Multi-Region X-ray Data (Kaggle), public copy; distinct files only, split by "
                     "source-image group",
    "--limitation", "Experimental. Few distinct source radiographs (514 groups); many files are rotated copies of "
                    "the same image.",
    "--limitation", "Some fractured images come from web pages: the model may learn the image source rather than "
                    "the fracture.",
    "--limitation", "Mixed body regions; not validated on any clinical population. Not for diagnostic use.",
    "--description", "Radiograph (mixed body regions): fractured vs not_fractured (EfficientNet-Lite0, 224 px, "
                     "letterbox). Experimental.",
]
FRACTURE_GUARD_FLAGS = ["--measure-ood", "--exclude-default-set", "fracture",
                        "--ood-set", "chest X-rays (Kermany train split, 200 spread over it)"
                                     "=../shared/data/chest-xray-pneumonia/train"]


def _flags_of(parser: argparse.ArgumentParser) -> set[str]:
    return {flag for action in parser._actions for flag in action.option_strings if flag.startswith("--")}


def _run_from_flags(argv: list[str]):
    from training.cli_train import build_parser, resolve_run

    parser = build_parser()
    return resolve_run(parser.parse_args(argv), parser, argv)[0]


def _tool_values(build_parser, argv: list[str], options) -> dict:
    parser = build_parser()
    return given_values(parser.parse_args(argv), options, prefix="")


def test_every_flag_is_one_recipe_key_and_the_tools_share_the_declarations():
    from training import cli_cam_check, cli_ood_fit, cli_train

    assert len(BY_NAME) == len(OPTIONS) == len({(o.table.name, o.key) for o in OPTIONS})
    switches = {"--no-" + o.name() for o in OPTIONS if o.kind == "switch"}  # --pretrained / --no-pretrained
    assert _flags_of(cli_train.build_parser()) == {o.flag() for o in OPTIONS} | switches | {
        "--help", "--recipe", "--set"}
    assert _flags_of(cli_ood_fit.build_parser()) == {o.flag("") for o in GUARD_TOOL_OPTIONS} | {
        "--help", "--bundle", "--data", "--out"}
    assert _flags_of(cli_cam_check.build_parser()) == {o.flag("") for o in HEATMAP_TOOL_OPTIONS} | {
        "--help", "--bundle", "--data", "--write-card"}
    # the lead's newest options are keys like every other
    for name in ("low-pass-sigma", "consistency", "consistency-noise", "consistency-jpeg-min", "consistency-rescale"):
        assert name in BY_NAME


@pytest.mark.parametrize("recipe, train_flags, guard_flags, heatmap_flags", [
    (CHEST_RECIPE, CHEST_TRAIN_FLAGS, CHEST_GUARD_FLAGS, CHEST_HEATMAP_FLAGS),
    (FRACTURE_RECIPE, FRACTURE_TRAIN_FLAGS, FRACTURE_GUARD_FLAGS, None),
])
def test_the_shipped_recipes_are_the_training_scripts_flags(recipe, train_flags, guard_flags, heatmap_flags):
    """Every option the recipe resolves to is what the scripts' three commands (xrayview-train, cli_ood_fit,
    cli_cam_check) gave, the guard and heatmap-check settings included."""
    from training import cli_cam_check, cli_ood_fit

    out = ["--out", "runs/x/bundle"]
    from_recipe = _run_from_flags(["--recipe", str(recipe), *out])
    from_flags = _run_from_flags([*train_flags, *out])
    assert from_recipe.config == from_flags.config
    assert from_recipe.data == from_flags.data
    assert {**vars(from_recipe.export), "command": ""} == {**vars(from_flags.export), "command": ""}
    assert from_recipe.guard == guard_options(_tool_values(cli_ood_fit.build_parser,
                                                           ["--bundle", "b", "--data", "d", *guard_flags],
                                                           GUARD_TOOL_OPTIONS))
    if heatmap_flags is None:
        assert from_recipe.heatmaps is None
    else:
        assert from_recipe.heatmaps == heatmap_options(_tool_values(
            cli_cam_check.build_parser, ["--bundle", "b", "--data", "d", *heatmap_flags], HEATMAP_TOOL_OPTIONS))
    assert from_recipe.config.pretrained and from_recipe.config.augment.jpeg_quality_min in (0, 40)
    # replayed as it is, the recipe recorded is the file itself
    assert from_recipe.recipe.data == recipe.read_bytes() and from_recipe.recipe.overrides == []
    assert from_recipe.recipe.sha256 == hashlib.sha256(recipe.read_bytes()).hexdigest()


def test_the_shipped_chest_bundle_is_what_the_three_recipes_build():
    """The default bundle records the stage 3 recipe file as it is in the repository (nothing overridden), which
    names stage 2's bundle and the views; stage 2's recipe resolves to what trained the network the card names
    (objectives, consistency views, WiSE) and starts from stage 1's bundle, whose recipe is the chest recipe."""
    import tomllib

    from inference.bundle import load_bundle
    from inference.predictor import default_bundle_dir

    card = load_bundle(default_bundle_dir()).card
    stages = PROJECT_ROOT / "training" / "recipes"
    views, stable = stages / "chest-xray-pneumonia-views.toml", stages / "chest-xray-pneumonia-stable.toml"
    recorded = card["training"]["recipe"]
    assert recorded["source"] == "training/recipes/chest-xray-pneumonia-views.toml" and recorded["overrides"] == []
    assert recorded["source_sha256"] == hashlib.sha256(views.read_bytes()).hexdigest()
    model = tomllib.loads(views.read_text(encoding="utf-8"))["model"]
    assert model["ensemble-of"] == ["runs/chest-stable/bundle"]
    assert card["architecture"] == f"efficientnet_lite0|views={model['views']}" == \
        "efficientnet_lite0|views=mirror,shift_1_1,shift_3_0"

    (member,) = card["training"]["ensemble"]
    trained = member["training"]
    run = _run_from_flags(["--recipe", str(stable), "--out", "runs/x/bundle"])
    assert str(run.config.pretrained_path) == "runs/chest-base/bundle/model.safetensors"
    assert not run.config.pretrained and run.config.epochs == 1 and run.config.wise_alpha == 0.5
    assert run.config.consistency == trained["consistency"]["weight"] == 50.0
    assert run.config.consistency_views.to_dict() == trained["consistency"]["views"]
    assert run.config.lung_focus == trained["lung_focus"]["weight"]
    assert run.config.map_specificity == trained["map_specificity"]["weight"]
    assert "interpolated 0.5" in trained["weights"]
    assert run.data.low_pass_sigma == card["input"]["normalisation"]["low_pass_sigma"] == 2.0
    base = _run_from_flags(["--recipe", str(CHEST_RECIPE), "--out", "runs/x/bundle"])
    assert base.data.low_pass_sigma == 2.0 and base.config.pretrained and base.config.epochs == 6
    assert (base.config.seed, base.data.fractions) == (run.config.seed, run.data.fractions)


def _sample_value(option):
    """A value of the option's kind that is not its default."""
    from training.option_table import CHOICE, FLAG, FLOAT, INT, NUMBERS, PATH, SWITCH

    if option.kind in (FLAG, SWITCH):
        return True
    if option.kind == CHOICE:
        return next(c for c in option.choices if c != defaults()[option.name()])
    if option.kind == NUMBERS:
        return [0.7, 0.2, 0.1] if option.joined else [0.25, 1.5]
    if option.kind == INT:
        return 32
    if option.kind == FLOAT:
        return 0.375
    if option.name() == "external":
        return [("set A, with a comma", Path("/data/ext a"))]
    if option.name() == "views":
        return "mirror,shift_3_0"
    if option.repeat:
        return ['a "quoted" text', "NAME=/some/folder"] if "set" not in option.key else ["n=/x"]
    if option.kind == PATH:
        return Path("/data/folder with ünïcode/and \"quotes\"")
    return "text with = sign, 'quotes' and a \\ backslash"


def test_a_rendered_recipe_reads_back_every_value():
    values = defaults()
    values.update({option.name(): _sample_value(option) for option in OPTIONS})
    text = render_recipe(values, "a comment\nover two lines")
    read = parse_recipe(text.encode("utf-8"), "rendered")
    expected = {option.name(): values[option.name()] for option in OPTIONS if not option.run_setting}
    assert read == expected


def test_set_checks_the_key_and_the_value():
    assert parse_assignment("epochs=1") == ("epochs", 1)
    assert parse_assignment("limit_per_class=20") == ("limit-per-class", 20)
    assert parse_assignment("lr=2e-4") == ("lr", 2e-4)
    assert parse_assignment("per-image-norm=false") == ("per-image-norm", False)
    assert parse_assignment("guard-exclude-default-set=fracture") == ("guard-exclude-default-set", ["fracture"])
    assert parse_assignment('limitation=["one, two", "three"]') == ("limitation", ["one, two", "three"])
    assert parse_assignment("split=0.7,0.2,0.1") == ("split", [0.7, 0.2, 0.1])
    assert parse_assignment("split=[0.7, 0.2, 0.1]") == ("split", [0.7, 0.2, 0.1])
    assert parse_assignment("guard-reference-blur=0.3,1") == ("guard-reference-blur", [0.3, 1.0])
    assert parse_assignment("miss-cost=") == ("miss-cost", None)  # empty: back to the default
    assert parse_assignment("epochs=") == ("epochs", 10)
    for text, message in [("epoch=1", "no option 'epoch' (did you mean 'epochs'?)"),
                          ("epochs=one", "epochs: expected a whole number, got 'one'"),
                          ("epochs=0", "epochs: must be at least 1, got 0"),
                          ("epochs", "expected KEY=VALUE"),
                          ("tta=yes", "tta: expected true or false, got 'yes'"),
                          ("arch=vgg", "arch: expected one of efficientnet_lite0"),
                          ("split=0.5,0.5", "split: expected three comma-separated numbers, got '0.5,0.5'"),
                          ("guard-reference-blur=0.5", "guard-reference-blur: expected 2 comma-separated numbers"),
                          ("external=nofolder", "external: expected NAME=DIR, got 'nofolder'"),
                          ('limitation=["a", 2]', "limitation: expected text, got the whole number 2")]:
        with pytest.raises(OptionError, match=re.escape(message)):
            parse_assignment(text)


def test_bad_set_and_bad_recipes_exit_2_naming_the_key_or_the_file(tmp_path, capsys):
    from training.cli_train import main

    with pytest.raises(SystemExit) as exited:
        main(["--recipe", str(CHEST_RECIPE), "--out", str(tmp_path / "b"), "--set", "epoch=1"])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "no option 'epoch' (did you mean 'epochs'?)" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as exited:
        main(["--out", str(tmp_path / "b")])
    assert exited.value.code == 2 and "required: --data (as flags or in the recipe)" in capsys.readouterr().err

    cases = {
        "[model]\nepochs = 6.5\n": "[model] epochs: expected a whole number, got the number 6.5",
        "[model]\nepochs = \"6\"\n": "[model] epochs: expected a whole number, got the text \"6\"",
        "[data]\nepochs = 6\n": "[data] epochs: belongs in the [model] table",
        "[data]\nimg_size = 6\n": "[data] img_size: no such key (did you mean 'img-size'?)",
        "[modle]\nepochs = 6\n": "'modle' is not a recipe table (did you mean 'model'?)",
        "epochs = 6\n": "'epochs' belongs in the [model] table",
        "[model\n": "not a valid TOML file",
        "[guard]\nfit = \"yes\"\n": "[guard] fit: expected true or false",
        "[augmentation]\nrotation = true\n": "[augmentation] rotation: expected a number, got the boolean true",
    }
    for content, message in cases.items():
        recipe = tmp_path / "bad.toml"
        recipe.write_text(content, encoding="utf-8")
        assert main(["--recipe", str(recipe), "--out", str(tmp_path / "b")]) == 2, content
        err = capsys.readouterr().err
        assert err.startswith(f"xrayview-train: error: {recipe}: ") and message in err, (content, err)
        assert "Traceback" not in err
    assert main(["--recipe", str(tmp_path / "missing.toml"), "--out", str(tmp_path / "b")]) == 2
    assert "missing.toml: cannot read the recipe (No such file or directory)" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_flags_and_set_override_the_recipe_and_the_run_records_what_changed(tmp_path):
    from training.cli_train import build_parser, resolve_run

    argv = ["--recipe", str(CHEST_RECIPE), "--out", str(tmp_path / "b"), "--epochs", "2", "--set", "seed=5",
            "--set", "guard-fit=false", "--device", "cpu"]
    parser = build_parser()
    run, values = resolve_run(parser.parse_args(argv), parser, argv)
    assert run.config.epochs == 2 and run.config.seed == 5 and run.guard is None and values["device"] == "cpu"
    assert run.config.lr == 2e-4 and run.heatmaps is not None  # the rest is the recipe's
    record = run.recipe.to_card()
    assert record["overrides"] == ["epochs = 2", "seed = 5", "guard-fit = false"]  # --out, --device: run settings
    assert record["source"] == str(CHEST_RECIPE)
    assert record["source_sha256"] == hashlib.sha256(CHEST_RECIPE.read_bytes()).hexdigest()
    assert record["sha256"] == hashlib.sha256(record["text"].encode()).hexdigest() != record["source_sha256"]
    # the recorded text is a recipe that resolves to the same run without the command line's changes
    replayed, _ = resolve(None, {}, [])
    replayed.update(parse_recipe(record["text"].encode(), "recorded"))
    from training.option_table import run_options

    again = run_options({**replayed, "out": tmp_path / "b"})
    assert again.config == run.config and again.data == run.data and again.guard is None
    assert again.heatmaps == run.heatmaps


def test_a_flags_only_run_records_a_recipe_that_replays_it(tmp_path):
    argv = ["--data", str(tmp_path), "--out", str(tmp_path / "b"), "--arch", "compact_cnn", "--epochs", "3",
            "--limitation", "one", "--external", f"a=b={tmp_path}"]
    run = _run_from_flags(argv)
    assert run.recipe.source is None and run.recipe.overrides == []
    recipe = tmp_path / "recipe.toml"
    recipe.write_bytes(run.recipe.data)
    again = _run_from_flags(["--recipe", str(recipe), "--out", str(tmp_path / "b")])
    assert again.config == run.config and again.data == run.data
    assert {**vars(again.export), "command": ""} == {**vars(run.export), "command": ""}
    assert run.data.external == [("a", Path(f"b={tmp_path}"))]


# -------------------------------------------------------------------------------------------- the replay test
REPLAY_SETS = ["epochs=1", "limit-per-class=12", "batch-size=8", "guard-set-limit=2", "guard-measure-ood=false"]


@pytest.mark.slow
def test_replaying_the_chest_recipe_gives_the_metrics_of_the_scripts_flags(tmp_path, shared_data, monkeypatch):
    """The shipped chest recipe, first epoch on a small subset, against what scripts/train_chest_model.sh ran
    before (xrayview-train with its flags, then cli_ood_fit and cli_cam_check --write-card on the bundle), with the
    same subset options: the same weights, metrics, history, guard and heatmap check."""
    import contextlib
    import io
    import os

    from training.cli_cam_check import main as cam_main
    from training.cli_ood_fit import main as ood_main
    from training.cli_train import main as train_main

    monkeypatch.chdir(PROJECT_ROOT)  # the recipe's relative paths, as the script runs it
    assert (PROJECT_ROOT / "../shared/data/chest-xray-pneumonia/train").resolve() == \
        (shared_data / "chest-xray-pneumonia" / "train").resolve()
    external = tmp_path / "external"  # four films per class of external-a instead of all 312
    for label in ("NORMAL", "PNEUMONIA"):
        (external / label).mkdir(parents=True)
        for path in sorted((shared_data / "chest-xray-pneumonia" / "external-a" / label).iterdir())[:4]:
            os.symlink(path, external / label / path.name)
    small = [f"--set={text}" for text in REPLAY_SETS] + [f"--set=external=[\"Kermany test half A={external}\"]"]

    def run(argv, tool=train_main) -> dict:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert tool(argv) == 0
        return json.loads(out.getvalue().strip().splitlines()[-1] if tool is train_main else out.getvalue())

    replayed = run(["--recipe", str(CHEST_RECIPE), "--out", str(tmp_path / "recipe"), "--quiet", *small])

    flags = [f.replace("=../shared/data/chest-xray-pneumonia/external-a", f"={external}") for f in CHEST_TRAIN_FLAGS]
    by_flag = run([*flags, "--epochs", "1", "--limit-per-class", "12", "--batch-size", "8",
                   "--out", str(tmp_path / "flags"), "--quiet"])
    data = ["--bundle", str(tmp_path / "flags"), "--data", "../shared/data/chest-xray-pneumonia/train"]
    guard_flags = [f if f != "5000" else "2" for f in CHEST_GUARD_FLAGS if f != "--measure-ood"]
    run([*data, *guard_flags], ood_main)
    run([*data, *CHEST_HEATMAP_FLAGS, "--write-card"], cam_main)

    assert replayed["weights_sha256"] == by_flag["weights_sha256"]
    for key in ("test", "test_tta_hflip", "threshold", "temperature", "val_auc", "best_epoch", "split_counts"):
        assert replayed[key] == by_flag[key], key
    cards = [json.loads((tmp_path / name / "model_card.json").read_text()) for name in ("recipe", "flags")]
    for card in cards:
        card["ood"].pop("command"), card["cam"]["lung_field_check"].pop("command")
        for entry in card["external_validation"]:
            entry.pop("command"), entry.pop("measured_utc")
    recipe_card, flags_card = cards
    for key in ("metrics", "threshold_table", "calibration", "ood", "cam", "limitations", "external_validation",
                "input", "training_data"):
        assert recipe_card[key] == flags_card[key], key
    assert recipe_card["training"]["history"][0].pop("seconds") > 0
    flags_card["training"]["history"][0].pop("seconds")
    assert recipe_card["training"]["history"] == flags_card["training"]["history"]
    assert recipe_card["ood"]["layer"] == "_blocks.15" and recipe_card["cam"]["detail_layer"] == "_blocks.10"
    assert (tmp_path / "recipe" / "ood_guard.safetensors").read_bytes() == \
        (tmp_path / "flags" / "ood_guard.safetensors").read_bytes()
    # the card records the recipe: the shipped file, its hash, and what --set changed
    recorded = recipe_card["training"]["recipe"]
    assert recorded["source_sha256"] == hashlib.sha256(CHEST_RECIPE.read_bytes()).hexdigest()
    assert recorded["overrides"][:2] == ["epochs = 1", "limit-per-class = 12"]
    bundled = (tmp_path / "recipe" / "recipe.toml").read_bytes()
    assert recorded["sha256"] == hashlib.sha256(bundled).hexdigest() and recorded["text"] == bundled.decode()
