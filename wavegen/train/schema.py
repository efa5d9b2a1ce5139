"""Run configs read back: a workdir's ``config.json`` against its family's current schema.

Every family declares its schema once (its task class's ``default_config``; see
``wavegen.defaults``). A run directory, a published generator and a resumed run all hold the
config they were made with; :func:`read_run_config` turns that file into a full config of the
family's current schema, so no task reads a key with a fallback default:

- keys the schema gained since the run was written take their defaults, which are the
  behaviour such runs had (a new key's default always keeps the former behaviour);
- configs written before each family had its own schema are upgraded: the VAE's flat
  ``model.vae_*`` / ``model.disc_*`` keys move to their current names (:data:`LEGACY_RENAMES`),
  and the GAN keys the former shared schema gave every family, which only the GANs read, are
  dropped;
- any other key the schema does not have is an error naming it (a config from a newer version
  or a hand-edited file), as is a value of the wrong type.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import ml_collections

from wavegen.config import ConfigError, apply_override
from wavegen.errors import WavegenError

# Former key -> current key, per family (``model.name``).
LEGACY_RENAMES: dict[str, dict[str, str]] = {
    "vae": {
        **{
            f"model.vae_{k}": f"model.{k}"
            for k in (
                "capacity",
                "max_channels",
                "ratios",
                "dilations",
                "kernel_size",
                "upsample",
                "activation",
                "harmonics",
                "f0_range",
            )
        },  # fmt: skip
        "model.discriminators": "model.discriminator.names",
        "model.disc_channels": "model.discriminator.channels",
        "model.disc_periods": "model.discriminator.periods",
        "model.disc_fft_sizes": "model.discriminator.fft_sizes",
        "model.disc_scales": "model.discriminator.scales",
    },
}


class RunConfigError(WavegenError):
    """A run's config.json cannot be read as its family's config (the message names the key)."""


def flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    """``{'a': {'b': 1}}`` → ``{'a.b': 1}`` (leaves only; an empty section is dropped)."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def family_schema(name: str) -> ml_collections.ConfigDict:
    """The default config of family ``name`` (``model.name``), from its registered task class.

    Raises:
      ConfigError: no family of that name.
    """
    from wavegen.train import task_class

    return task_class(name).default_config()


def upgrade_config(saved: dict, where: str = "config") -> ml_collections.ConfigDict:
    """A saved config (as parsed JSON) as a full, unlocked config of its family's schema.

    Args:
      saved: the ``config.json`` contents.
      where: what to name in errors (the file).

    Raises:
      RunConfigError: no known ``model.name``, a key the schema does not have, or a value of
        the wrong type.
    """
    from wavegen.defaults import base_config

    name = saved.get("model", {}).get("name") if isinstance(saved.get("model"), dict) else None
    try:
        cfg = family_schema(name)
    except ConfigError as e:
        raise RunConfigError(f"{where}: {e}") from e
    with cfg.unlocked():
        cfg.model.name = name  # a family may have several names (wavegan, specgan)
    known = set(flatten(cfg.to_dict()))
    former_shared = set(flatten(base_config().to_dict()))
    renames = LEGACY_RENAMES.get(name, {})
    flat = flatten(saved)
    legacy = any(key in renames for key in flat)
    for key, value in flat.items():
        if legacy and key in renames.values():
            # The former shared schema's GAN key of the same name (a legacy VAE config's
            # model.kernel_size = 25 beside its model.vae_kernel_size): never read by the family.
            continue
        key = renames.get(key, key)
        if key in known:
            try:
                apply_override(cfg, key, value)
            except ConfigError as e:
                raise RunConfigError(f"{where}: {e}") from e
        elif key not in former_shared:
            raise RunConfigError(
                f"{where}: key '{key}' is not in the {name!r} family's config schema (a config "
                "written by another wavegen version, or edited by hand?)"
            )
    return cfg


def read_run_config(path: str | Path) -> ml_collections.ConfigDict:
    """Reads a ``config.json`` (:func:`upgrade_config`); unlocked, so callers may rewrite paths.

    Raises:
      RunConfigError: missing or malformed file, or not a config of a known family.
    """
    path = Path(path)
    try:
        saved = json.loads(path.read_text())
    except FileNotFoundError as e:
        raise RunConfigError(f"{path} is missing") from e
    except (OSError, json.JSONDecodeError) as e:
        raise RunConfigError(f"{path} is not a readable JSON config: {e}") from e
    if not isinstance(saved, dict):
        raise RunConfigError(f"{path}: expected a JSON object, got {type(saved).__name__}")
    return upgrade_config(saved, str(path))
