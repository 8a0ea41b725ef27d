"""`keras-nas run --config FILE`: search settings from a YAML or JSON file."""

import json
import os

import yaml

from keras_nas_cli.common import excerpt

RUN_KEYS = {
    "dataset": "a text",
    "modality": "auto, image, audio, text, series or tabular",
    "text_column": "a text",
    "image_size": "a text such as '64x64'",
    "memory_budget": "a positive number (GiB)",
    "cache_dir": "a text",
    "disk_cache": "true or false",
    "skip_bad_files": "true or false",
    "task": "auto, multiclass, binary or regression",
    "space": "a name or a mapping with `name` and the space's arguments",
    "strategy": "a name or a mapping with `name` and the strategy's arguments",
    "max_trials": "a positive integer",
    "epochs": "a positive integer",
    "batch_size": "a positive integer",
    "objective": "a name, names separated by commas, or a list of names",
    "select": "a text such as 'val_accuracy, latency_ms<=5'",
    "max_params": "a positive integer",
    "max_flops": "a positive integer",
    "max_latency_ms": "a positive number",
    "max_model_bytes": "a positive integer",
    "early_stopping": "asha, hyperband, median or none",
    "eta": "a positive integer",
    "min_epochs": "a positive integer",
    "directory": "a text",
    "name": "a text",
    "seed": "an integer",
    "export_dir": "a text",
    "test_fraction": "a number between 0 and 1",
    "final_fit": "true or false",
    "final_epochs": "a positive integer",
    "ensemble": "a positive integer",
    "time_limit": "seconds or a duration such as '10m'",
    "max_failures": "a positive integer",
    "trial_process": "a text",
    "workers": "a positive integer",
    "tensorboard": "a text",
    "quiet": "true or false",
    "verbose": "true or false",
    "warm_start": "a text",
}
"""The keys a config file may hold: the options of `keras-nas run`."""


MAX_BYTES = 64 * 1024
"""The largest config file read (settings take a few hundred bytes)."""
MAX_VALUES = 10_000
"""The most values a config file may hold once YAML aliases are expanded."""


class ConfigError(ValueError):
    """A config file cannot be read or holds unknown keys or wrong types."""


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _fits(key, value):
    if key in ("space", "strategy"):
        if isinstance(value, dict):
            return isinstance(value.get("name"), str) and all(
                isinstance(k, str) for k in value
            )
        return isinstance(value, str)
    if key == "seed":
        return _is_int(value)
    if key == "time_limit":
        return isinstance(value, str) or (
            isinstance(value, (int, float)) and not isinstance(value, bool)
        )
    if key == "objective" and isinstance(value, list):
        return bool(value) and all(isinstance(v, str) for v in value)
    if key == "final_fit":
        return isinstance(value, bool)
    if key == "test_fraction":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 1
    if key in ("max_latency_ms", "memory_budget"):
        return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
    if RUN_KEYS[key] == "a positive integer":
        return _is_int(value) and value > 0
    if RUN_KEYS[key] == "true or false":
        return isinstance(value, bool)
    return isinstance(value, str)


def load_config(path):
    """Reads and validates a search config, without running any code.

    YAML is read with `yaml.safe_load`, which builds only plain mappings,
    lists, text and numbers; JSON with `json.load`.

    Args:
        path: A `.yaml`, `.yml` or `.json` file holding one mapping whose keys
            are among `RUN_KEYS`.

    Returns:
        The mapping.

    Raises:
        ConfigError: If the file is missing, unreadable, not a mapping, or
            holds an unknown key or a value of the wrong type.

    Example:

    ```yaml
    dataset: digits
    space: {name: convnet, max_blocks: 3}
    strategy: {name: evolution, sample_size: 4}
    max_trials: 20
    time_limit: 30m
    ```
    """
    extension = os.path.splitext(path)[1].lower()
    if extension not in (".yaml", ".yml", ".json"):
        raise ConfigError(
            f"{path}: expected a .yaml, .yml or .json file, received "
            f"{extension or 'no extension'}."
        )
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as error:
        raise ConfigError(f"{path}: {error.strerror}.") from None
    if len(raw) > MAX_BYTES:
        raise ConfigError(f"{path} is larger than {MAX_BYTES:,} bytes.")
    try:
        text = raw.decode("utf-8")
        config = json.loads(text) if extension == ".json" else _load_yaml(text)
    except (ValueError, RecursionError, yaml.YAMLError) as error:
        detail = " ".join(str(error).split())[:300]
        raise ConfigError(f"{path} is not valid {extension[1:].upper()}: {detail}") from None
    if not isinstance(config, dict):
        raise ConfigError(
            f"{path}: expected a mapping of settings, received "
            f"{type(config).__name__}."
        )
    for key, value in config.items():
        if key not in RUN_KEYS:
            raise ConfigError(
                f"{path}: unknown key {excerpt(key)}; known keys are "
                f"{', '.join(RUN_KEYS)}."
            )
        if not _fits(key, value):
            raise ConfigError(
                f"{path}: {key} must be {RUN_KEYS[key]}, received {excerpt(value)}."
            )
    return config


def _load_yaml(text):
    """`yaml.safe_load`, refusing documents whose aliases expand too far.

    An alias is shared, not copied, when loaded, but anything that walks
    the result (a check, an error message) walks it expanded: nine nested
    aliases of nine make a billion values from a few hundred bytes.
    """
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    sizes = {}

    def expanded(node):
        if id(node) not in sizes:
            sizes[id(node)] = MAX_VALUES + 1  # a cycle counts as too many
            children = []
            if isinstance(node, yaml.SequenceNode):
                children = node.value
            elif isinstance(node, yaml.MappingNode):
                children = [part for pair in node.value for part in pair]
            total = 1
            for child in children:
                total = min(total + expanded(child), MAX_VALUES + 1)
            sizes[id(node)] = total
        return sizes[id(node)]

    if root is not None and expanded(root) > MAX_VALUES:
        raise ConfigError(
            f"the document expands to more than {MAX_VALUES:,} values "
            "through YAML aliases; write the settings out plainly."
        )
    return yaml.safe_load(text)


def split_named(value):
    """Splits a `space`/`strategy` setting into its name and its arguments."""
    if isinstance(value, dict):
        options = dict(value)
        return options.pop("name"), options
    return value, {}
