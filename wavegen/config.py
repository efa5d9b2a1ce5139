"""Experiment configs: Python files in experiments/ exposing ``get_config(arg)``.

A config spec is ``path/to/file.py[:ARG]``; ``ARG`` selects a variant (e.g. ``tiny``). Overrides are
``KEY=VALUE`` strings with dotted keys (``train.num_steps=20``). The returned ConfigDict is
locked, so an unknown key is an error that names the key and the closest existing ones, and a
value whose type does not match the default is an error naming the key and both types.
"""

from __future__ import annotations

import ast
import difflib
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import ml_collections

from wavegen.errors import ConfigError, WavegenError  # noqa: F401 (re-exported)


def load_experiment_module(path: str | Path) -> ModuleType:
    """Imports an experiment file by path (not by package name, so any file works)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    name = f"wavegen_experiment_{path.stem}_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot import config file {path}: not a Python file?")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # the file itself is broken: say which file
        raise ConfigError(f"error while importing config file {path}: {e!r}") from e
    if not hasattr(module, "get_config"):
        raise ConfigError(f"config file {path} defines no get_config(arg)")
    return module


def split_spec(spec: str) -> tuple[str, str | None]:
    """``'experiments/x.py:tiny'`` → ``('experiments/x.py', 'tiny')``."""
    if ":" in spec and not Path(spec).is_file():
        path, arg = spec.rsplit(":", 1)
        return path, (arg or None)
    return spec, None


def parse_value(text: str) -> Any:
    """Parses an override's value as a Python literal, falling back to the raw string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _keys(cfg: ml_collections.ConfigDict, prefix: str = "") -> list[str]:
    out = []
    for k, v in cfg.items():
        out.append(prefix + k)
        if isinstance(v, ml_collections.ConfigDict):
            out.extend(_keys(v, prefix + k + "."))
    return out


def _coerce(key: str, old: Any, new: Any) -> Any:
    """Coerces ``new`` to the type of the default ``old``, or raises ConfigError."""
    if isinstance(old, ml_collections.ConfigDict):
        # Replacing a whole section would silently drop every key not given.
        raise ConfigError(
            f"config key '{key}' is a section ({', '.join(sorted(old))}); override its keys one "
            f"by one, e.g. {key}.{next(iter(sorted(old)), 'KEY')}=..."
        )
    if old is None:
        return new
    if isinstance(old, bool):
        if isinstance(new, bool):
            return new
        if isinstance(new, str) and new.lower() in ("true", "false", "1", "0", "yes", "no"):
            return new.lower() in ("true", "1", "yes")
        if isinstance(new, int) and new in (0, 1):
            return bool(new)
    elif isinstance(old, int):
        if isinstance(new, int) and not isinstance(new, bool):
            return new
        if isinstance(new, float) and new.is_integer():
            return int(new)
    elif isinstance(old, float):
        if isinstance(new, (int, float)) and not isinstance(new, bool):
            return float(new)
    elif isinstance(old, str):
        return str(new)
    elif isinstance(old, (tuple, list)):
        if isinstance(new, (tuple, list)):
            return type(old)(new)
        if isinstance(new, (int, float, str)):
            return type(old)([new])
    elif isinstance(new, type(old)):
        return new
    raise ConfigError(
        f"config key '{key}' expects {type(old).__name__} (default {old!r}), got {new!r} "
        f"({type(new).__name__})"
    )


def apply_override(cfg: ml_collections.ConfigDict, key: str, value: Any) -> None:
    """Sets dotted ``key`` to ``value`` in place; unknown keys and type mismatches raise."""
    parts = key.split(".")
    node = cfg
    for i, part in enumerate(parts):
        if not isinstance(node, ml_collections.ConfigDict) or part not in node:
            known = _keys(cfg)
            close = difflib.get_close_matches(key, known, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            where = ".".join(parts[:i]) or "<top level>"
            raise ConfigError(f"unknown config key '{key}' ('{part}' is not in {where}){hint}")
        if i < len(parts) - 1:
            node = node[part]
    leaf = parts[-1]
    with node.unlocked():
        node[leaf] = _coerce(key, node[leaf], value)


def load_config(spec: str, overrides: list[str] | None = None) -> ml_collections.ConfigDict:
    """Loads ``FILE.py[:ARG]``, applies ``KEY=VALUE`` overrides and returns a locked config.

    Args:
      spec: experiment file path with an optional ``:ARG`` variant.
      overrides: strings ``'a.b=1'``; a leading ``--config.`` or ``config.`` is dropped.

    Raises:
      ConfigError: missing file, broken file, unknown key, wrong value type, or a shared key out
        of range (:func:`validate_common`).
    """
    path, arg = split_spec(spec)
    module = load_experiment_module(path)
    try:
        cfg = module.get_config(arg)
    except ConfigError:
        raise
    except Exception as e:
        raise ConfigError(f"{path}: get_config({arg!r}) failed: {e!r}") from e
    if not isinstance(cfg, ml_collections.ConfigDict):
        cfg = ml_collections.ConfigDict(cfg)
    for item in overrides or []:
        key, value = parse_override(item)
        apply_override(cfg, key, value)
    validate_common(cfg)
    cfg.lock()
    return cfg


# Shared-schema keys (see wavegen.defaults) and what they must hold; keys a config lacks are not
# checked, so experiment files with other schemas load unchanged.
POSITIVE = (
    "data.sample_rate", "data.length", "data.slices_per_file", "data.synthetic_size",
    "train.batch_size", "train.num_steps", "train.d_steps", "train.log_every",
    "train.sample_every", "train.checkpoint_every", "train.keep_checkpoints",
    "train.learning_rate",
)  # fmt: skip
NON_NEGATIVE = ("data.prefetch", "train.num_samples", "loss.gp_weight")
CHOICES = {"train.nan_policy": ("stop", "skip")}


def _get(cfg: ml_collections.ConfigDict, key: str) -> tuple[bool, Any]:
    node: Any = cfg
    for part in key.split("."):
        if not isinstance(node, ml_collections.ConfigDict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def validate_common(cfg: ml_collections.ConfigDict) -> None:
    """Checks the shared keys' ranges (sizes > 0, known policies) before anything is built.

    Raises:
      ConfigError: naming the key, the value and what was expected.
    """
    for key in POSITIVE + NON_NEGATIVE:
        found, value = _get(cfg, key)
        if not found or value is None:
            continue
        low_ok = value > 0 if key in POSITIVE else value >= 0
        if isinstance(value, bool) or not isinstance(value, int | float) or not low_ok:
            raise ConfigError(
                f"config key '{key}' must be a number {'> 0' if key in POSITIVE else '>= 0'}, "
                f"got {value!r}"
            )
    for key, choices in CHOICES.items():
        found, value = _get(cfg, key)
        if found and value not in choices:
            raise ConfigError(f"config key '{key}' must be one of {choices}, got {value!r}")


def parse_override(item: str) -> tuple[str, Any]:
    """``'--config.train.lr=1e-3'`` → ``('train.lr', 0.001)``."""
    text = item
    for prefix in ("--config.", "config."):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    if "=" not in text:
        raise ConfigError(f"override {item!r} is not KEY=VALUE")
    key, value = text.split("=", 1)
    return key.strip(), parse_value(value)


def apply_sweep_point(cfg: ml_collections.ConfigDict, point: dict[str, Any]) -> None:
    """Applies a sweep point ``{'model.phase_shuffle': 2, ...}`` (same checks as overrides)."""
    for key, value in point.items():
        apply_override(cfg, key, value)


def to_json(cfg: ml_collections.ConfigDict) -> str:
    """The full resolved config as stable, sorted JSON (written into every workdir)."""
    return json.dumps(cfg.to_dict(), indent=2, sort_keys=True, default=list)


def from_json(text: str) -> ml_collections.ConfigDict:
    """Inverse of :func:`to_json` (lists come back as lists)."""
    return ml_collections.ConfigDict(json.loads(text))


def diff_configs(a: dict, b: dict, prefix: str = "") -> list[str]:
    """Keys whose values differ between two config dicts, as ``'key: a != b'`` lines."""
    out = []
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k, "<missing>"), b.get(k, "<missing>")
        if isinstance(va, dict) and isinstance(vb, dict):
            out.extend(diff_configs(va, vb, prefix + k + "."))
        elif _normalise(va) != _normalise(vb):
            out.append(f"{prefix}{k}: {va!r} != {vb!r}")
    return out


def _normalise(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v
