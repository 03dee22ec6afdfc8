"""`synthpet predict`: names, inputs and models checked before any work (the predictions themselves are
tested on the demo's trained models in test_workflow)."""

import json

import pytest
from conftest import write_nifti

from synthpet.cli import main
from synthpet.errors import SynthpetError
from synthpet.predict import find_inputs, load_fold_models, output_stem


@pytest.mark.parametrize(
    "name, stem",
    [
        ("sub-01_acq-1.0mm_T1w.nii.gz", "sub-01_acq-1.0mm"),
        ("colin.v2_T1w.nii", "colin.v2"),
        ("colin_T1w.nii", "colin"),
        ("a.b.nii.gz", "a.b"),
        ("scan.NII.GZ", "scan"),
        ("sub-01_ses-2_run-1_T1w.nii.gz", "sub-01_ses-2_run-1"),
    ],
)
def test_output_names_keep_the_inputs_name(name, stem):
    assert output_stem(name) == stem


def test_a_folder_gives_its_t1w_images_and_collisions_are_refused(tmp_path):
    folder = tmp_path / "in"
    a = write_nifti(folder / "sub-01" / "anat" / "sub-01_T1w.nii.gz")
    b = write_nifti(folder / "colin.v2_T1w.nii.gz")
    write_nifti(folder / "sub-01" / "anat" / "sub-01_FLAIR.nii.gz")  # not a T1w: left out
    assert find_inputs([folder]) == sorted([a, b])
    clash = write_nifti(tmp_path / "other" / "sub-01_T1w.nii")
    with pytest.raises(SynthpetError, match="would both be written as sub-01_"):
        find_inputs([folder, clash])


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda tmp: tmp / "missing.nii.gz", "no such file or folder"),
        (lambda tmp: (tmp / "notes.txt").write_text("x") and tmp / "notes.txt", "not a NIfTI image"),
        (lambda tmp: (tmp / "empty").mkdir() or tmp / "empty", "holds no NIfTI image"),
    ],
)
def test_bad_inputs_are_named(tmp_path, make, words):
    with pytest.raises(SynthpetError, match=words):
        find_inputs([make(tmp_path)])


def fold(models, k, model_pt=True, **summary):
    folder = models / f"fold-{k}"
    folder.mkdir(parents=True)
    content = {"settings": {"model": {"channels": 8}, "seed": 42}, "preprocess": {"backend": "ants"}} | summary
    (folder / "summary.json").write_text(json.dumps(content))
    if model_pt:
        (folder / "model.pt").write_bytes(b"weights")


def test_models_are_checked_before_any_work(tmp_path):
    with pytest.raises(SynthpetError, match="no such models folder"):
        load_fold_models(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SynthpetError, match="train the models with the workflow first"):
        load_fold_models(tmp_path / "empty")
    fold(tmp_path / "unfinished", 0, model_pt=False)
    with pytest.raises(SynthpetError, match="training did not finish"):
        load_fold_models(tmp_path / "unfinished")
    fold(tmp_path / "mixed", 0)
    fold(tmp_path / "mixed", 1, preprocess={"backend": "fsl"})
    with pytest.raises(SynthpetError, match="different settings"):
        load_fold_models(tmp_path / "mixed")
    fold(tmp_path / "good", 0, trained_on="phantom")
    fold(tmp_path / "good", 1, trained_on="phantom")
    models = load_fold_models(tmp_path / "good")
    assert len(models.weights) == 2 and models.trained_on == "phantom" and models.seed == 42


def test_user_mistakes_end_in_a_message_not_a_traceback(tmp_path, capsys):
    t1w = write_nifti(tmp_path / "sub-01_T1w.nii.gz")
    assert main(["predict", str(t1w), "--models", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("synthpet: error:") and "no such models folder" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()
