"""`synthpet predict`: names, inputs and models checked before any work (the predictions themselves are
tested on the demo's trained models in test_workflow)."""

import json

import nibabel as nib
import numpy as np
import pytest
from conftest import write_nifti, write_t1w
from nilearn.image import smooth_img

from synthpet.cli import main
from synthpet.errors import SynthpetError
from synthpet.io.contrast import smoothness
from synthpet.predict import find_inputs, load_fold_models, output_folders, output_stem
from synthpet.preprocess.brain_extraction import head_template


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
    a = write_t1w(folder / "sub-01" / "anat" / "sub-01_T1w.nii.gz")
    b = write_t1w(folder / "colin.v2_T1w.nii.gz")
    write_nifti(folder / "sub-01" / "anat" / "sub-01_FLAIR.nii.gz")  # not a T1w: left out
    assert find_inputs([folder]) == sorted([a, b])
    clash = write_t1w(tmp_path / "other" / "sub-01_T1w.nii")
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
    t1w = write_t1w(tmp_path / "sub-01_T1w.nii.gz")
    assert main(["predict", str(t1w), "--models", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("synthpet: error:") and "no such models folder" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_images_that_are_not_a_t1w_are_refused_all_at_once(tmp_path):
    """A PET named or described as one, a 4D image, and a folder that holds a T1w and a PET: every
    problem before any work (a PET used to get a synthetic PET and a plausible-looking QC figure)."""
    pet = write_nifti(tmp_path / "sub-01_pet.nii.gz")
    described = write_nifti(tmp_path / "scan.nii.gz")
    (tmp_path / "scan.json").write_text(json.dumps({"Modality": "PT", "Units": "Bq/mL"}))
    series = write_nifti(tmp_path / "series.nii.gz", shape=(8, 8, 8, 3))
    with pytest.raises(SynthpetError) as caught:
        find_inputs([pet, described, series])
    message = str(caught.value)
    assert "sub-01_pet.nii.gz: named as a pet image" in message
    assert "scan.json describes a PT image" in message
    assert "series.nii.gz: a T1w is a 3D image" in message
    slab = write_t1w(tmp_path / "slab_T1w.nii.gz", shape=(56, 56, 20))  # 40 mm: a partial acquisition
    with pytest.raises(SynthpetError, match="slab_T1w.nii.gz: the T1w's field of view is 112 x 112 x 40 mm"):
        find_inputs([slab])
    folder = tmp_path / "session"
    t1w = write_t1w(folder / "anatomy.nii.gz")
    write_nifti(folder / "uptake_pet.nii.gz")  # no _T1w name in the folder: the PET is still left out
    assert find_inputs([folder]) == [t1w]
    only_pet = tmp_path / "pet-only"
    write_nifti(only_pet / "sub-02_pet.nii.gz")
    with pytest.raises(SynthpetError, match="holds no T1w image"):
        find_inputs([only_pet])


def test_a_pet_or_a_ct_named_as_a_t1w_is_refused_by_its_voxels(small_phantom, tmp_path):
    """No name or sidecar gives them away (the issue's PET got a synthetic PET and a 2,291 mL brain):
    a PET is as smooth as a PET, noisy or not; a CT is in Hounsfield units. A T1w, even a smooth
    average of many brains, with or without skull, is still taken."""
    root, _ = small_phantom
    template = nib.load(head_template(2)[0])  # the MNI152 T1 at 2 mm, with skull
    folder = tmp_path / "mixed"
    accepted = [
        write_nifti(folder / "template_T1w.nii.gz", data=template.get_fdata(), affine=template.affine),
        write_nifti(folder / "phantom_T1w.nii", data=nib.load(next(root.rglob("*_T1w.nii.gz"))).get_fdata()),
    ]
    pet = nib.load(next(root.rglob("*_pet.nii.gz")))
    uptake = pet.get_fdata().reshape(*pet.shape[:3], -1).mean(axis=3)
    noisy = uptake * (1 + 0.2 * np.random.default_rng(0).standard_normal(uptake.shape))
    write_nifti(folder / "uptake_T1w.nii.gz", data=uptake, affine=pet.affine)
    write_nifti(folder / "noisy_T1w.nii.gz", data=noisy, affine=pet.affine)
    head = template.get_fdata() > 800  # the template's head in Hounsfield units: air -1000, tissue 40
    write_nifti(folder / "head_T1w.nii.gz", data=np.where(head, 40.0, -1000.0), affine=template.affine)
    for path in accepted:
        assert find_inputs([path]) == [path]
    with pytest.raises(SynthpetError) as caught:
        find_inputs([folder])
    message = str(caught.value)
    assert "uptake_T1w.nii.gz: its voxels look like a PET" in message
    assert "noisy_T1w.nii.gz: its voxels look like a PET" in message
    assert "head_T1w.nii.gz: its voxels look like a CT" in message and "Hounsfield" in message
    assert "template_T1w" not in message and "phantom_T1w" not in message


def test_smoothness_sees_blur_and_not_noise():
    """The measure behind the PET check: blurring raises it; voxel noise leaves it where it was, both
    a PET's (that grows with the signal, here 50 %) and an MRI's (the same everywhere, a fifth of
    the anatomy's own contrast)."""
    template = nib.load(head_template(2)[0])
    voxel = template.header.get_zooms()[:3]
    data = template.get_fdata()
    noise = np.random.default_rng(1).standard_normal((2, *data.shape))
    sharp = smoothness(data, voxel)
    for noisy in (data * (1 + 0.5 * noise[0]), data + 0.2 * data[data > 0].std() * noise[1]):
        assert abs(smoothness(noisy, voxel) - sharp) < 0.03
    assert smoothness(smooth_img(template, 8).get_fdata(), voxel) > sharp + 0.1


def test_a_fold_folder_and_a_missing_fold_are_named(tmp_path):
    models = tmp_path / "models"
    folds = {0: ["a", "b"], 1: ["c", "d"], 2: ["e", "f"]}
    everyone = [s for held in folds.values() for s in held]
    for k, held in folds.items():
        fold(models, k, scans={"train": [s for s in everyone if s not in held], "held_out": held})
    with pytest.raises(SynthpetError, match="one fold's folder; give --models the folder that holds the fold-"):
        load_fold_models(models / "fold-0")
    assert load_fold_models(models).unheld == ()
    for path in (models / "fold-2").iterdir():
        path.unlink()
    (models / "fold-2").rmdir()
    assert load_fold_models(models).unheld == ("e", "f")


def test_every_option_of_every_command_is_described_with_its_default():
    """`synthpet <command> --help` describes each option, and says the default of any option that
    has one (a user of `predict` must see where --models looks and what --device does)."""
    import argparse

    from synthpet.cli import build_parser

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, parser in commands.choices.items():
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            where = f"synthpet {name} {'/'.join(action.option_strings) or action.dest}"
            assert action.help, f"{where} has no help"
            if action.default not in (None, False) and action.option_strings:
                assert "%(default)s" in action.help or str(action.default) in action.help, f"{where}: no default"


def test_outputs_of_bids_named_inputs_go_to_their_subject_and_session_folders(tmp_path):
    out = tmp_path / "out"
    assert output_folders(out, "sub-01_ses-02_acq-mp2rage") == (
        out / "sub-01" / "ses-02" / "pet",
        out / "sub-01" / "figures",
    )
    assert output_folders(out, "sub-01_acq-1.0mm") == (out / "sub-01" / "pet", out / "sub-01" / "figures")
    assert output_folders(out, "sub-01") == (out / "sub-01" / "pet", out / "sub-01" / "figures")
    # no subject entity, or an empty label: BIDS has no place for it, so the folder itself
    for stem in ("colin", "sub-_T1", "subject-01_ses-1", "ses-01_sub-01"):
        assert output_folders(out, stem) == (out, out), stem
