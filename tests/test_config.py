import pytest
import yaml
from conftest import REPO

from synthpet.errors import ConfigError
from synthpet.io.config import load_config, validate_config
from synthpet.validation.phantom import cohort_layout


def test_defaults_are_filled_in():
    config = validate_config({})
    assert config["input"]["source"] == "phantom"
    assert config["input"]["suv_window_min"] == [60, 90]
    assert config["phantom"]["hab_over_mab"] == 1.4


@pytest.mark.parametrize(
    "config, key, words",
    [
        ({"phantom": {"pet_voxel": 2}}, "phantom.pet_voxel", "unknown config key"),
        ({"sede": 1}, "sede", "unknown config key"),
        ({"seed": "forty-two"}, "seed", "not of type 'integer'"),
        ({"phantom": {"hab_fraction": 1.5}}, "phantom.hab_fraction", "greater than the maximum"),
        ({"phantom": {"t1_voxel_mm": 3}}, "phantom.t1_voxel_mm", "not one of"),
        ({"input": {"source": "bids"}}, "input.bids_dir", "must name a BIDS dataset"),
        # a dataset named but the source left at its default: the synthetic cohort would run instead
        ({"input": {"bids_dir": "/data/study"}}, "input.bids_dir", "set input.source: bids"),
        ({"input": {"suv_window_min": [90, 60]}}, "input.suv_window_min", "must be before"),
        ({"phantom": {"cohort": [{"group": "HC", "sessions": 1}]}}, "phantom.cohort.0", "'participants' is a required"),
    ],
)
def test_bad_values_name_their_key(config, key, words):
    with pytest.raises(ConfigError) as caught:
        validate_config(config)
    message = str(caught.value)
    assert f"'{key}" in message and words in message


def test_a_study_names_its_own_groups_whatever_the_synthetic_cohorts_are():
    """The synthetic cohort's settings (groups HC, CLBP, KOA by default) are checked only when it runs:
    a BIDS study with groups CTRL and PAT was refused for the phantom's defaults."""
    config = validate_config({"input": {"source": "bids", "bids_dir": "/data/study", "groups": ["CTRL", "PAT"]}})
    assert config["input"]["groups"] == ["CTRL", "PAT"]


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as caught:
        validate_config({"seed": -1, "output_dirr": "x"})
    assert "'seed'" in str(caught.value) and "'output_dirr'" in str(caught.value)


@pytest.mark.parametrize("name", ["config.yaml", "paper.yaml", "phantom-paper.yaml"])
def test_shipped_configs_are_valid(name):
    config = load_config(REPO / "config" / name)
    assert config["output_dir"]


def test_full_scale_cohort_matches_the_paper():
    config = load_config(REPO / "config" / "phantom-paper.yaml")
    people = cohort_layout(config["phantom"], config["seed"])
    assert len(people) == 115
    assert sum(len(p.sessions) for p in people) == 204
    scans = {g: sum(len(p.sessions) for p in people if p.group == g) for g in ("KOA", "CLBP", "HC")}
    assert scans == {"KOA": 87, "CLBP": 89, "HC": 28}
    for group in scans:
        assert {p.genotype for p in people if p.group == group} == {"HAB", "MAB"}


def test_config_file_must_be_a_mapping(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump([1, 2]))
    with pytest.raises(ConfigError, match="YAML mapping"):
        load_config(path)


def test_command_line_strings_become_the_numbers_the_schema_expects():
    # snakemake --config 'training={epochs: 1}' passes nested values as strings
    config = validate_config(
        {"training": {"epochs": "1", "learning_rate": "1e-3"}, "input": {"t1w_filters": {"acquisition": "001"}}}
    )
    assert config["training"]["epochs"] == 1 and config["training"]["learning_rate"] == 0.001
    assert config["input"]["t1w_filters"] == {"acquisition": "001"}  # a string where strings belong stays one
    with pytest.raises(ConfigError, match="'training.epochs': 'many' is not of type 'integer'"):
        validate_config({"training": {"epochs": "many"}})


@pytest.mark.parametrize(
    "content, words",
    [
        (None, "config file not found"),
        ("training: {epochs: 3\n", "not valid YAML"),
        ("[1, 2]\n", "YAML mapping"),
    ],
)
def test_config_files_that_cannot_be_read_name_the_file(tmp_path, content, words):
    path = tmp_path / "c.yaml"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=words) as caught:
        load_config(path)
    assert str(path) in str(caught.value)


def test_files_merge_in_order_and_never_over_the_demo(tmp_path):
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text("training: {epochs: 7, batch_size: 4}\n")
    second.write_text("training: {epochs: 9}\n")
    config = load_config(first, second)
    assert config["training"]["epochs"] == 9 and config["training"]["batch_size"] == 4
    # keys neither file sets take the schema's defaults (the paper's), not the demo's
    assert config["folds"]["n_folds"] == 5 and config["model"]["channels"] == 32
    demo = load_config()
    assert demo["folds"]["n_folds"] == 3 and demo["model"]["channels"] == 8


def test_home_folder_is_expanded(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    config = validate_config({"input": {"source": "bids", "bids_dir": "~/data"}, "output_dir": "~/out"})
    assert config["input"]["bids_dir"] == str(tmp_path / "data") and config["output_dir"] == str(tmp_path / "out")


def test_phantom_refuses_a_file_as_its_output_folder(tmp_path, capsys):
    from synthpet.cli import main

    target = tmp_path / "a-file"
    target.write_text("keep me")
    assert main(["phantom", "--out", str(target)]) == 2
    assert "--out names a file" in capsys.readouterr().err
    assert target.read_text() == "keep me"


def test_every_setting_is_described():
    from synthpet.io.config import load_schema

    undescribed = []

    def walk(node, path):
        # sections and the fields of list items too (phantom.cohort's rows)
        for key, sub in node.get("properties", {}).items():
            if "description" not in sub:
                undescribed.append(".".join([*path, key]))
            walk(sub, [*path, key])
            walk(sub.get("items", {}), [*path, key, "[]"])

    walk(load_schema(), [])
    assert undescribed == []


def test_validated_config_keys_follow_the_schema_order():
    """Snakemake reruns a job whose params changed, key order included: two configs that mean the same
    give the same order (a default spelled out in a config file must not rerun the workflow)."""
    spelled = validate_config({"preprocess": {"mri_clip": True, "grid_frame": "affine"}, "seed": 42})
    left_out = validate_config({})
    assert spelled == left_out
    assert list(spelled) == list(left_out) and list(spelled["preprocess"]) == list(left_out["preprocess"])
    assert repr(spelled) == repr(left_out)
    # inside lists too: a cohort row written in another key order
    row = {"participants": 2, "group": "HC", "sessions": 1}
    assert list(validate_config({"phantom": {"cohort": [row]}})["phantom"]["cohort"][0]) == [
        "group",
        "sessions",
        "participants",
    ]


def test_cpu_training_of_the_papers_model_is_warned_with_an_estimate():
    """The paper's model on its 96^3 grid, 204 scans in 5 folds, 50 epochs: 5.06 volumes/s measured for
    this model at 32^3 on 2 cores, times 27 for the grid, is 5.3 s a volume; 8,160 volumes a fold
    (163 training scans x 50 epochs) make about 12 h."""
    from synthpet.plan import training_time_warning

    paper = load_config(REPO / "config" / "phantom-paper.yaml", overrides={"training": {"device": "cpu"}})
    warning = training_time_warning(paper, 204)
    assert warning is not None and "each of the 5 folds would train on the CPU for about 12 h" in warning
    assert training_time_warning(paper | {"training": paper["training"] | {"device": "cuda"}}, 204) is None
    demo = load_config(REPO / "config" / "config.yaml")
    assert training_time_warning(demo, 16) is None  # minutes: no warning
