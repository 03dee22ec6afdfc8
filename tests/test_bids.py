import json
from pathlib import Path

import numpy as np
import pytest
from conftest import STATIC_PET_SIDECAR, T1W_SHAPE, dynamic_sidecar, write_nifti

from synthpet.errors import InputError
from synthpet.io.bids import discover, sidecar_chain


def problems_of(root, input_config) -> str:
    with pytest.raises(InputError) as caught:
        discover(root, input_config)
    return str(caught.value)


def test_sessions_and_groups_are_discovered(tiny_bids, input_config):
    tiny_bids.scan("01", "1", "HC", "HAB").scan("01", "2", "HC", "HAB").scan("02", "1", "KOA", "MAB")
    tiny_bids.write_participants()
    cohort = discover(tiny_bids.root, input_config)
    assert [s.id for s in cohort.scans] == ["sub-01_ses-1", "sub-01_ses-2", "sub-02_ses-1"]
    assert cohort.has_sessions
    assert cohort.scans[2].group == "KOA" and cohort.scans[2].genotype == "MAB"
    assert cohort.scans[0].t1w.startswith(str(tiny_bids.root))


def test_dataset_without_sessions(tiny_bids, input_config):
    tiny_bids.scan("01").scan("02").write_participants()
    cohort = discover(tiny_bids.root, input_config)
    assert [s.id for s in cohort.scans] == ["sub-01", "sub-02"]
    assert not cohort.has_sessions


def test_sidecar_inheritance(tiny_bids, input_config):
    # dose and timing at the top level, apply to every dynamic PET of the dataset
    (tiny_bids.root / "trc-PBR28_pet.json").write_text(json.dumps(dynamic_sidecar()))
    tiny_bids.participant("01").t1w("01")
    pet = tiny_bids.pet("01", sidecar={"BodyWeight": 80.0}, frames=3)
    tiny_bids.write_participants()
    chain = sidecar_chain(pet, tiny_bids.root)
    assert [p.split("/")[-1] for p in chain] == ["trc-PBR28_pet.json", "sub-01_trc-PBR28_pet.json"]
    cohort = discover(tiny_bids.root, input_config)
    assert cohort.scans[0].pet_sidecars == tuple(chain)


@pytest.mark.parametrize(
    "breakage, words",
    [
        ("no_pet", "sub-02: no PET image (it has a T1w image; every session needs both)"),
        ("no_t1w", "sub-02: no T1w image (it has a PET image; every session needs both)"),
        ("not_listed", "participant sub-02 is not in participants.tsv"),
        ("no_genotype", "(sub-02): no genotype"),
        ("no_group", "(sub-02): no group"),
        ("bad_group", "unknown group 'MS'"),
        ("bad_genotype", "unknown genotype 'XAB'"),
        ("bad_label", "participant_id must be 'sub-' followed by letters and digits only"),
        ("t1w_4d", "T1w must be a 3D image"),
        ("dynamic_without_fields", "cannot compute SUV: sidecar lacks"),
        ("no_sidecar", "no JSON sidecar"),
        ("two_t1w", "2 T1w images"),
    ],
)
def test_each_bad_input_is_named(tiny_bids, input_config, breakage, words):
    tiny_bids.scan("01")
    group, genotype = {
        "no_genotype": ("HC", "n/a"),
        "no_group": ("n/a", "HAB"),
        "bad_group": ("MS", "HAB"),
        "bad_genotype": ("HC", "XAB"),
    }.get(breakage, ("HC", "HAB"))
    if breakage != "not_listed":
        tiny_bids.participant("02" if breakage != "bad_label" else "0_2", group, genotype)
    if breakage != "no_t1w":
        tiny_bids.t1w("02", shape=(*T1W_SHAPE, 3) if breakage == "t1w_4d" else T1W_SHAPE)
    if breakage == "two_t1w":
        tiny_bids.t1w("02", extra="_acq-fast")
    if breakage == "dynamic_without_fields":
        tiny_bids.pet("02", sidecar={"Units": "Bq/mL"}, frames=4)
    elif breakage != "no_pet":
        tiny_bids.pet("02", sidecar=None if breakage == "no_sidecar" else STATIC_PET_SIDECAR)
    tiny_bids.write_participants()
    message = problems_of(tiny_bids.root, input_config)
    assert words in message
    assert "sub-01" not in message  # only the broken participant is blamed


def test_all_problems_are_reported_together(tiny_bids, input_config):
    tiny_bids.participant("01").participant("02").t1w("01")
    tiny_bids.pet("02", sidecar=STATIC_PET_SIDECAR)
    tiny_bids.write_participants()
    message = problems_of(tiny_bids.root, input_config)
    assert "sub-01: no PET image" in message and "sub-02: no T1w image" in message
    assert "2 problem(s)" in message


def test_filters_choose_among_several_t1w(tiny_bids, input_config):
    tiny_bids.scan("01")
    tiny_bids.t1w("01", extra="_acq-fast")
    tiny_bids.write_participants()
    assert "compete" in (message := problems_of(tiny_bids.root, input_config))
    assert "choose one with input.t1w_filters" in message
    cohort = discover(tiny_bids.root, input_config | {"t1w_filters": {"acquisition": "fast"}})
    assert cohort.scans[0].t1w.endswith("sub-01_acq-fast_T1w.nii.gz")


def test_one_sessions_competing_t1w_images_are_chosen_through_bidsignore(tiny_bids, input_config):
    """Two T1w runs in one session blocked the whole dataset: the filters apply to every session, and
    the message added a misleading "it has a PET image". The dataset's .bidsignore now chooses for
    that session alone, and the message names the competing files and both ways out."""
    tiny_bids.scan("01", "1").scan("01", "2").scan("02", "1")
    tiny_bids.t1w("01", "2", extra="_run-2")
    tiny_bids.write_participants()
    message = problems_of(tiny_bids.root, input_config)
    assert "ses-2: 2 T1w images compete (sub-01_ses-2_T1w.nii.gz, sub-01_ses-2_run-2_T1w.nii.gz)" in message
    assert ".bidsignore" in message and "it has a PET image" not in message
    (tiny_bids.root / ".bidsignore").write_text("# the repeat that moved\nsub-01/ses-2/anat/*_run-2_T1w.nii.gz\n")
    cohort = discover(tiny_bids.root, input_config)
    assert {s.id: Path(s.t1w).name for s in cohort.scans}["sub-01_ses-2"] == "sub-01_ses-2_T1w.nii.gz"
    assert len(cohort.scans) == 3  # the other sessions as before
    (tiny_bids.root / ".bidsignore").write_text("*_run-2_T1w.nii.gz\n")  # a name pattern, any folder
    assert len(discover(tiny_bids.root, input_config).scans) == 3


def test_filters_take_a_list_of_values(tiny_bids, input_config):
    tiny_bids.scan("01").scan("02")
    tiny_bids.t1w("01", extra="_acq-fast")
    tiny_bids.t1w("02", extra="_acq-slow")
    tiny_bids.write_participants()
    from synthpet.io.config import validate_config

    filters = validate_config({"input": {"t1w_filters": {"acquisition": ["fast", "slow"]}}})["input"]["t1w_filters"]
    cohort = discover(tiny_bids.root, input_config | {"t1w_filters": filters})
    assert [Path(s.t1w).name for s in cohort.scans] == ["sub-01_acq-fast_T1w.nii.gz", "sub-02_acq-slow_T1w.nii.gz"]


def test_lab_participants_are_excluded_unless_kept(tiny_bids, input_config):
    tiny_bids.scan("01").scan("02", genotype="LAB").write_participants()
    cohort = discover(tiny_bids.root, input_config)
    assert [s.id for s in cohort.scans] == ["sub-01"]
    assert "LAB" in cohort.excluded["sub-02"]
    kept = discover(tiny_bids.root, input_config | {"keep_lab": True})
    assert [s.id for s in kept.scans] == ["sub-01", "sub-02"]


def test_mixed_session_layout_is_refused(tiny_bids, input_config):
    tiny_bids.scan("01", "1").scan("02").write_participants()
    assert "some participants have session folders" in problems_of(tiny_bids.root, input_config)


def test_missing_dataset_and_participants_table(tmp_path, input_config):
    assert "does not exist" in problems_of(tmp_path / "nowhere", input_config)
    (tmp_path / "empty").mkdir()
    message = problems_of(tmp_path / "empty", input_config)
    assert "dataset_description.json" in message and "participants.tsv: missing" in message


def test_inputs_are_not_modified(tiny_bids, input_config):
    tiny_bids.scan("01").write_participants()
    before = {p: p.read_bytes() for p in tiny_bids.root.rglob("*") if p.is_file()}
    discover(tiny_bids.root, input_config)
    after = {p: p.read_bytes() for p in tiny_bids.root.rglob("*") if p.is_file()}
    assert before == after


def test_a_pets_header_and_sidecar_problems_are_reported_together(tiny_bids, input_config):
    tiny_bids.scan("01")
    tiny_bids.participant("02").t1w("02")
    pet = tiny_bids.pet("02", sidecar=dynamic_sidecar() | {"InjectedRadioactivity": float("nan")}, frames=3)
    write_nifti(pet, shape=(8, 8, 8, 3), affine=np.diag([40.0, 40.0, 40.0, 1.0]))  # absurd voxels
    tiny_bids.write_participants()
    message = problems_of(tiny_bids.root, input_config)
    assert "PET voxel size 40x40x40 mm is implausible" in message
    assert "'InjectedRadioactivity' is nan" in message


def test_body_weight_from_the_bids_tables(tiny_bids, input_config, tmp_path):
    """BIDS keeps weight in participants.tsv or sessions.tsv: a dynamic PET whose sidecar lacks
    BodyWeight takes it from there (a session's over the participant's), and gives the same SUV as a
    sidecar with that weight; a sidecar that disagrees, or a weight that is not in kg, is refused."""
    from synthpet.preprocess.ingest import ingest_pet

    without = {k: v for k, v in dynamic_sidecar().items() if k != "BodyWeight"}
    for session in ("1", "2"):
        tiny_bids.t1w("01", session)
        tiny_bids.pet("01", session, without, frames=3)
    tiny_bids.participant("01").write_participants()
    (tiny_bids.root / "participants.tsv").write_text("participant_id\tgroup\tgenotype\tweight\nsub-01\tHC\tHAB\t74\n")
    (tiny_bids.root / "sub-01" / "sub-01_sessions.tsv").write_text("session_id\tweight\nses-2\t80.5\n")
    cohort = discover(tiny_bids.root, input_config)
    assert [s.weight_kg for s in cohort.scans] == [74.0, 80.5]

    scan = cohort.scans[0]
    from_table, from_sidecar = tmp_path / "table.nii.gz", tmp_path / "sidecar.nii.gz"
    ingest_pet(scan.pet, scan.pet_sidecars, (60, 90), from_table, scan.weight_kg)
    with_weight = tmp_path / "with.json"
    with_weight.write_text(json.dumps(dynamic_sidecar()))  # BodyWeight 74
    ingest_pet(scan.pet, [str(with_weight)], (60, 90), from_sidecar)
    import nibabel as nib

    assert np.array_equal(nib.load(from_table).get_fdata(), nib.load(from_sidecar).get_fdata())
    with pytest.raises(InputError, match="BodyWeight .74 kg. disagrees with the weight .* .80.5 kg"):
        ingest_pet(scan.pet, [str(with_weight)], (60, 90), tmp_path / "no.nii.gz", 80.5)
    assert not (tmp_path / "no.nii.gz").exists()

    (tiny_bids.root / "sub-01" / "sub-01_sessions.tsv").write_text("session_id\tweight\nses-2\t165lb\n")
    assert "sub-01_sessions.tsv, line 2 (ses-2): weight '165lb' is not a number (kg)" in problems_of(
        tiny_bids.root, input_config
    )
    (tiny_bids.root / "sub-01" / "sub-01_sessions.tsv").write_text("session_id\tweight\nses-2\t80.5\n")
    sidecar = tiny_bids.root / "sub-01" / "ses-1" / "pet" / "sub-01_ses-1_trc-PBR28_pet.json"
    sidecar.write_text(json.dumps(dynamic_sidecar() | {"BodyWeight": 90.0}))
    assert "sidecar's BodyWeight (90 kg) disagrees with the weight in sessions.tsv or participants.tsv (74 kg)" in (
        problems_of(tiny_bids.root, input_config)
    )
