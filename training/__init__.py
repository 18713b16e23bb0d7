"""XRayView training package (Qt-free). A training run is a sequence of stages (training.events.Stage):

    prepare data -> train -> evaluate -> calibrate -> fit guard -> check heatmaps -> write card -> seal

each a function of `training.stages` with typed inputs and outputs, run in that order by
`training.pipeline.run_training(RunOptions, device, progress=, cancel=, stop=, prepared=, stability=)`. The command
line (`xrayview-train`, flags or `--recipe FILE [--set KEY=VALUE]`), torchrun (the same command line on every rank)
and the desktop wizard all build a `training.run_options.RunOptions` and call it:

    from training.option_table import run_options       # every option: flag, recipe key, dataclass field
    from training.recipe import resolve                  # defaults < recipe file < flags < --set, and its record
    values, record = resolve(Path("training/recipes/chest-xray-pneumonia.toml"), {"out": Path(out)}, ["epochs=1"])
    outcome = run_training(run_options(values, recipe=record), resolve_device("auto"), progress=cb, cancel=event)
    outcome.bundle_dir, outcome.card, outcome.summary   # summary["test"]: metrics at the chosen threshold
    outcome.evaluation.test.logits, outcome.calibration.operating   # what every number was computed from

    # before training, the dataset report (the wizard's report page); pass it on with run_training(prepared=)
    prepared = training.stages.prepare.inspect_dataset(DataOptions(data=root, img_size=224), pretrained=True)
    prepared.report.to_text() / .to_dict() / .warnings / .has_leakage

Other entry points: training.evaluate.evaluate_bundle (xrayview-eval), training.external (external validation in
the card), training.site_calibration.calibrate_bundle (xrayview-calibrate), training.ood_fit.add_guard_to_bundle and
training.cam_check.check (the guard and the heatmap check of a bundle already written: the stages' own functions).

`progress(event)` gets typed events (training.events, dataclasses): StageStarted / StageSkipped (a stage of the
vocabulary above), StepStarted (a named part of a stage), DecodeProgress, DatasetReported, TrainingResumed,
BatchDone, EpochDone (with the history record and the external sets' per-epoch scores: reported only, never used to
choose anything), TrainingStopped, GuardProgress and RunFinished (the summary). `cancel.set()` stops between batches
(raises TrainingCancelled, a TrainingError); the last epoch checkpoint stays in OUT.partial/ and
`RunOptions(resume=True)` continues from it. An existing `out` is refused before any image is read unless
`ExportOptions(overwrite=True)`; then it is moved aside intact (OUT.previous-<time>) once a complete, validated new
bundle replaces it (inference.bundle.write_bundle). Checkpoints are read with `torch.load(weights_only=True)` and
checked before use (training/checkpoint.py).
"""
