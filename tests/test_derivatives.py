"""BIDS-derivatives metadata read off the file names, and input paths as the dataset names them."""

import hashlib
import os

import pytest

from synthpet.io.derivatives import dataset_relative, sidecar, write_sidecars
from synthpet.io.paths import bids_path, source_entities

RAW = {"t1w": "sub-01/anat/sub-01_T1w.nii.gz", "pet": "sub-01/pet/sub-01_trc-PBR28_pet.nii.gz"}


def test_an_annexed_image_keeps_its_dataset_path(tmp_path):
    """DataLad datasets hold images as symlinks into .git/annex (or another disk): the BIDS path is kept."""
    root = tmp_path / "bids"
    image = root / "sub-01" / "anat" / "sub-01_T1w.nii.gz"
    image.parent.mkdir(parents=True)
    store = tmp_path / "elsewhere" / "MD5E-s1--abc.nii.gz"
    store.parent.mkdir()
    store.write_bytes(b"x")
    os.symlink(store, image)
    assert dataset_relative(image, root) == "sub-01/anat/sub-01_T1w.nii.gz"
    linked_root = tmp_path / "link-to-bids"
    os.symlink(root, linked_root)  # the dataset named through a link, the image through the real folder
    assert dataset_relative(image, linked_root) == "sub-01/anat/sub-01_T1w.nii.gz"


def test_derivatives_keep_their_source_images_entities():
    """BIDS derivatives carry their source's entities: trc-/rec-/run- of the PET, acq-/run- of the T1w,
    in the source's order, after sub- and ses- and before what the workflow adds."""
    pet = "sub-01_ses-2_trc-PBR28_rec-acdyn_run-1_pet.nii.gz"
    assert source_entities(pet) == "_trc-PBR28_rec-acdyn_run-1"
    assert source_entities("sub-01_acq-mprage_T1w.nii") == "_acq-mprage"
    assert source_entities("sub-01_T1w.nii.gz") == ""
    # entities the workflow sets itself are never taken over from an input
    assert source_entities("sub-01_space-T1w_desc-x_pet.nii.gz") == ""
    derived = bids_path("out", "pet", "pet", "01", "2", source=source_entities(pet), space="T1w", desc="brain")
    assert derived == "out/sub-01/ses-2/pet/sub-01_ses-2_trc-PBR28_rec-acdyn_run-1_space-T1w_desc-brain_pet.nii.gz"


def test_sidecars_say_space_reference_units_and_fold(tmp_path):
    out = tmp_path / "out"
    # a grid is that of the scan's grid mask, named after the T1w (no trc-), not after the PET
    mask = out / "preproc/sub-01/anat/sub-01_space-grid_desc-brain_mask.nii.gz"
    grid = sidecar(out / "predictions/sub-01/pet/sub-01_trc-PBR28_space-grid_desc-synthetic_pet.nii.gz", RAW, mask, 2)
    assert grid["SpatialReference"] == "bids:preproc:sub-01/anat/sub-01_space-grid_desc-brain_mask.nii.gz"
    assert grid["CrossValidationFold"] == 2 and grid["Model"] == "models/fold-2/model.pt"
    assert grid["Sources"] == [f"bids:raw:{RAW['t1w']}"]  # predicted from the T1w alone
    native = sidecar(out / "preproc/sub-01/pet/sub-01_trc-PBR28_space-T1w_desc-brain_pet.nii.gz", RAW, mask)
    assert native["SpatialReference"] == f"bids:raw:{RAW['t1w']}" and native["Units"] == "g/mL"
    assert native["SkullStripped"] is True and native["Sources"] == [f"bids:raw:{RAW['pet']}"]
    ingested = sidecar(out / "preproc/sub-01/anat/sub-01_desc-ingested_T1w.nii.gz", RAW, mask)
    assert ingested["SkullStripped"] is False and "SpatialReference" not in ingested
    in_preproc = sidecar(out / "preproc/sub-01/anat/sub-01_space-grid_desc-norm_T1w.nii.gz", RAW, mask)
    assert in_preproc["SpatialReference"] == "bids::sub-01/anat/sub-01_space-grid_desc-brain_mask.nii.gz"
    suvr = sidecar(
        out / "mni/sub-01/pet/sub-01_trc-PBR28_space-MNI152NLin6Asym_desc-syntheticSUVR_pet.nii.gz",
        RAW,
        mask,
        fold=0,
        suvr_reference=["Left_Thalamus", "Right_Thalamus"],
    )
    assert suvr["ReferenceRegion"] == "Left_Thalamus + Right_Thalamus" and suvr["Units"] == "ratio"


def test_sidecars_are_written_with_a_manifest_and_never_beside_a_missing_image(tmp_path):
    """The sidecar job declares only its manifest, so it must check what Snakemake no longer does:
    one image missing, and nothing is written; all there, and the manifest names each sidecar with
    its checksum."""
    folder = tmp_path / "out" / "preproc" / "sub-01" / "anat"
    folder.mkdir(parents=True)
    images = [folder / "sub-01_desc-brain_mask.nii.gz", folder / "sub-01_desc-ingested_T1w.nii.gz"]
    mask = images[0]
    jobs = [{"image": str(image), "raw": RAW, "grid_mask": str(mask), "fold": None} for image in images]
    manifest = tmp_path / "out" / "logs" / "participant_sidecars.tsv"
    images[0].write_bytes(b"x")
    with pytest.raises(FileNotFoundError, match="sub-01_desc-ingested_T1w.nii.gz"):
        write_sidecars(jobs, manifest)
    assert not list(folder.glob("*.json")) and not manifest.exists()

    images[1].write_bytes(b"x")
    write_sidecars(jobs, manifest)
    rows = [line.split("\t") for line in manifest.read_text().splitlines()[1:]]
    assert [path for path, _ in rows] == [str(image).replace(".nii.gz", ".json") for image in images]
    for path, digest in rows:
        assert hashlib.sha256(open(path, "rb").read()).hexdigest() == digest
