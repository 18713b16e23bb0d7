"""One input pipeline (issue 24.2): prediction (the viewer and xrayview-predict), evaluation (xrayview-eval), site
calibration, the OOD guard's fit and its set measurements, the training cache and the wizard build the same model
input from the same file, bit for bit: full-resolution JPEGs, a 12-bit MONOCHROME1 DICOM of a real film and the
bundled sample DICOM. Before, the training cache rounded the resized input to 8 bits and the predictor did not
(p moved by up to 0.10 on full-resolution films; person1947_bacteria_4876: 0.402 in eval, 0.326 in the viewer).

The model input is the 8-bit array (`model_input_u8`), compared bit for bit. Its normalisation (the card's
low-pass and per-image standardisation) is one function of it; batched, its float reductions may round the last
bit differently from one film at a time, so the normalised tensors are compared to 1e-5."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from inference.image_io import load_image
from inference.predictor import Predictor, default_bundle_dir
from inference.preprocess import model_input_u8, normalise_spec_batch, to_model_tensor
from tests.helpers.dicom_factory import load_gray_image, make_dicom_from_array

FULLRES = ("PNEUMONIA/person1717_bacteria_4534.jpeg", "NORMAL/IM-0230-0001.jpeg")


@pytest.fixture(scope="module")
def predictor():
    return Predictor(default_bundle_dir(), device="cpu")


@pytest.fixture(scope="module")
def labelled_folder(shared_data, project_root, tmp_path_factory) -> Path:
    """DIR/CLASS/* with full-resolution films, a 12-bit MONOCHROME1 DICOM of one and the bundled sample."""
    root = tmp_path_factory.mktemp("films")
    for name in FULLRES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(shared_data / "samples" / "chest-xray-fullres" / name, root / name)
    pixels = load_gray_image(shared_data / "samples" / "chest-xray-fullres" / FULLRES[0], size=None)
    make_dicom_from_array(pixels.astype(np.uint16) * 16, root / "PNEUMONIA" / "film-12bit-m1.dcm", bits_stored=12,
                          window=(2048, 4096), photometric="MONOCHROME1")
    shutil.copy(project_root / "resources" / "samples" / "chest-pa-sample.dcm", root / "NORMAL" / "sample.dcm")
    return root


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _viewer_inputs(predictor, files) -> torch.Tensor:
    return torch.cat([predictor.preprocess(load_image(f)) for f in files])


def _viewer_u8(predictor, files) -> torch.Tensor:
    return torch.stack([torch.from_numpy(model_input_u8(load_image(f).render(), predictor.spec))[None]
                        for f in files])


def test_the_training_cache_and_the_viewer_build_the_same_input(predictor, labelled_folder):
    from training.cache import decode_images
    from training.trainer import Normalisation

    files = _files(labelled_folder)
    decoded = decode_images(files, predictor.spec, workers=0)
    assert decoded.ok.all()
    assert torch.equal(decoded.images, _viewer_u8(predictor, files))
    cached = Normalisation.from_spec(predictor.spec).apply(decoded.images.float().div_(255.0))
    torch.testing.assert_close(cached, _viewer_inputs(predictor, files), rtol=0, atol=1e-5)
    # the full-resolution films really were resized (the case that differed before)
    assert min(s[0] for s in decoded.original_shapes) > 224


def test_evaluation_calibration_and_guard_sets_build_the_same_input(predictor, labelled_folder):
    from training.external import load_labelled_set
    from training.ood_fit import decode_split

    labelled = load_labelled_set(labelled_folder, predictor.spec, predictor.labels)
    assert torch.equal(labelled.images, _viewer_u8(predictor, labelled.paths))
    viewer = _viewer_inputs(predictor, labelled.paths)
    evaluated = normalise_spec_batch(labelled.images.float().div_(255.0), predictor.spec)
    torch.testing.assert_close(evaluated, viewer, rtol=0, atol=1e-5)
    assert torch.equal(decode_split(labelled.paths, predictor.spec), labelled.images)  # the guard's fit
    # the guard's set measurements (training.ood_fit.measure_ood_sets) use to_model_tensor on the rendered film
    rendered = torch.cat([to_model_tensor(load_image(p).render(), predictor.spec) for p in labelled.paths])
    assert torch.equal(rendered, viewer)


def test_xrayview_eval_and_xrayview_predict_give_the_same_probability(labelled_folder, capsys):
    from inference.cli_predict import main as predict_main
    from training.cli_eval import main as eval_main

    assert eval_main(["--data", str(labelled_folder), "--details", "--device", "cpu"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    per_file = {Path(row["path"]).name: row["probabilities"]["PNEUMONIA"] for row in evaluated["per_file"]}
    films = [labelled_folder / name for name in FULLRES] + [labelled_folder / "PNEUMONIA" / "film-12bit-m1.dcm"]
    with pytest.raises(SystemExit) as exited:
        predict_main([*map(str, films), "--device", "cpu"])
    assert exited.value.code == 0
    predicted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(predicted) == len(films)
    for row in predicted:
        name = Path(row["path"]).name
        # the CLI prints 6 decimals; batches of different sizes may differ in the last float bits
        assert row["probabilities"]["PNEUMONIA"] == pytest.approx(per_file[name], abs=2e-6), name
