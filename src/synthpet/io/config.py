"""Configuration: JSON-schema validation with defaults, and the cross-key rules a schema cannot say.

Errors name the dotted key (``phantom.pet_voxel_mm``) so that a user can find it in their YAML.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from synthpet.errors import ConfigError
from synthpet.io.resources import workflow_root

SCHEMA_PATH = workflow_root() / "workflow" / "schemas" / "config.schema.yaml"
# the demo: what a run without --configfile uses (and only then; see effective_config)
DEMO_CONFIG_PATH = workflow_root() / "config" / "config.yaml"


def _with_defaults(validator_class):
    """Extend a jsonschema validator so that validating also fills in ``default`` values."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_DefaultingValidator = _with_defaults(jsonschema.Draft202012Validator)


def load_schema(path: str | Path = SCHEMA_PATH) -> dict:
    with open(path) as handle:
        return yaml.safe_load(handle)


def _key(path) -> str:
    return ".".join(str(part) for part in path) or "<top level>"


def _describe(error: jsonschema.ValidationError) -> str:
    key = _key(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        if error.schema.get("properties") is not None and unknown:
            prefix = f"{key}." if error.absolute_path else ""
            names = ", ".join(f"'{prefix}{name}'" for name in unknown)
            return f"unknown config key {names}; allowed here: {', '.join(allowed)}"
    return f"config key '{key}': {error.message}"


def validate_config(config: Mapping[str, Any], schema: dict | None = None) -> dict:
    """Return a validated copy of ``config`` with every default filled in.

    Raises ConfigError listing every problem, each naming its key.
    """
    schema = load_schema() if schema is None else schema
    filled = copy.deepcopy(dict(config))
    validator = _DefaultingValidator(schema)
    _coerce_command_line_scalars(validator, filled)
    problems = [
        _describe(e) for e in sorted(validator.iter_errors(filled), key=lambda e: list(map(str, e.absolute_path)))
    ]
    if not problems:
        problems = _cross_key_problems(filled)
    if problems:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(problems))
    # '~/data' means the user's home, as in a shell
    filled["output_dir"] = os.path.expanduser(filled["output_dir"])
    if filled["input"]["bids_dir"]:
        filled["input"]["bids_dir"] = os.path.expanduser(filled["input"]["bids_dir"])
    return in_schema_order(filled, schema)


def in_schema_order(value: Any, schema: dict) -> Any:
    """``value`` with every mapping's keys in the schema's order (others after them, sorted).

    Snakemake compares a rule's params as written, key order included: without one order, a key
    spelled out in a config file at its default value would rerun every job that reads it.
    """
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [in_schema_order(item, schema["items"]) for item in value]
    if not isinstance(value, dict):
        return value
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties") if isinstance(schema.get("additionalProperties"), dict) else {}
    known = [key for key in properties if key in value]
    ordered = known + sorted((key for key in value if key not in properties), key=str)
    return {key: in_schema_order(value[key], properties.get(key, extra)) for key in ordered}


_SCALAR_TYPES = {"integer": int, "number": (int, float), "boolean": bool}


def _coerce_command_line_scalars(validator, config: dict) -> None:
    """Turn strings into the numbers or booleans the schema expects there, in place.

    Snakemake's ``--config key={a: 1}`` hands nested values over as strings ('1'); only where the
    schema wants a number or a boolean and the string reads as one (YAML) is it converted.
    """
    for _ in range(3):  # defaults filled in by one pass may expose nested keys to the next
        changed = False
        for error in validator.iter_errors(config):
            wanted = error.validator_value if error.validator == "type" else None
            if not isinstance(error.instance, str) or wanted is None:
                continue
            wanted = [wanted] if isinstance(wanted, str) else wanted
            value = yaml.safe_load(error.instance)
            if isinstance(value, str) and "number" in wanted:
                try:
                    value = float(value)  # YAML 1.1 reads '1e-3' as a string
                except ValueError:
                    pass
            if any(isinstance(value, _SCALAR_TYPES[t]) for t in wanted if t in _SCALAR_TYPES) and not (
                isinstance(value, bool) and "boolean" not in wanted
            ):
                parent = config
                *path, last = list(error.absolute_path)
                for key in path:
                    parent = parent[key]
                parent[last] = value
                changed = True
        if not changed:
            return


def _cross_key_problems(config: dict) -> list[str]:
    problems = []
    source = config["input"]
    if source["source"] == "bids" and not source["bids_dir"]:
        problems.append("config key 'input.bids_dir': must name a BIDS dataset when input.source is 'bids'")
    if source["source"] == "phantom" and source["bids_dir"]:
        # the synthetic cohort would run instead of the dataset the user named, without a word
        problems.append(
            f"config key 'input.bids_dir': {source['bids_dir']} is set, but input.source is 'phantom' (the "
            "default), which makes and uses the synthetic cohort; set input.source: bids to run on that dataset"
        )
    start, end = source["suv_window_min"]
    if not start < end:
        problems.append(f"config key 'input.suv_window_min': start {start} must be before end {end}")
    # the synthetic cohort's settings are the harness's to check (validation.phantom.check_settings),
    # and only when it runs: a study's own input.groups need not name the phantom's groups
    low, high = config["preprocess"]["mri_percentiles"]
    if not low < high:
        problems.append(f"config key 'preprocess.mri_percentiles': lower {low} must be below upper {high}")
    model = config["model"]
    if len(model["channel_mults"]) != len(model["attention_levels"]):
        problems.append("config key 'model.attention_levels': needs one entry per level of model.channel_mults")
    for key in ("norm_groups", "head_norm_groups"):
        if model["channels"] % model[key]:
            problems.append(
                f"config key 'model.{key}': {model[key]} does not divide model.channels {model['channels']}"
            )
    levels = len(model["channel_mults"])
    if any(n % 2 ** (levels - 1) for n in config["preprocess"]["grid_shape"]):
        problems.append(
            f"config key 'preprocess.grid_shape': each size must be divisible by {2 ** (levels - 1)} "
            f"for a model of {levels} levels"
        )
    return problems


def merge_config(base: dict, update: Mapping[str, Any]) -> dict:
    """``update`` merged into ``base`` in place, mapping by mapping, as Snakemake merges config files."""
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            merge_config(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def read_config_file(path: str | Path) -> dict:
    """One YAML config file as a mapping; ConfigError naming the file when it is missing or malformed."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            config = yaml.safe_load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a config file") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({' '.join(str(err).split())})") from None
    config = {} if config is None else config
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: the configuration must be a YAML mapping, not {type(config).__name__}")
    return config


def effective_config(paths: Sequence[str | Path] = (), overrides: Mapping[str, Any] | None = None) -> dict:
    """The settings a run uses, unvalidated: the demo config when no file is given, else the files merged
    in order (never over the demo, so a key a file leaves out takes the schema's default), then ``overrides``."""
    config: dict = {}
    for path in paths or [DEMO_CONFIG_PATH]:
        merge_config(config, read_config_file(path))
    return merge_config(config, overrides or {})


def load_config(*paths: str | Path, overrides: Mapping[str, Any] | None = None) -> dict:
    """The validated config a run with these config files (the demo config when none) and overrides uses."""
    return validate_config(effective_config(paths, overrides))
