"""One config schema per family, and run configs read back against it (wavegen.train.schema)."""

import json
from pathlib import Path

import pytest

from wavegen.config import ConfigError, load_config
from wavegen.defaults import base_config
from wavegen.train import TASKS, task_class
from wavegen.train.checkpoint import write_config
from wavegen.train.schema import (
    LEGACY_RENAMES,
    RunConfigError,
    flatten,
    read_run_config,
    upgrade_config,
)
from wavegen.train.vae import vae_config

REPO = Path(__file__).resolve().parents[2]


def _flat(cfg) -> dict:
    return flatten(cfg.to_dict())


@pytest.mark.parametrize("name", sorted(TASKS))
def test_a_current_config_reads_back_unchanged(name):
    cfg = task_class(name).default_config()
    with cfg.unlocked():
        cfg.model.name = name
    back = upgrade_config(json.loads(json.dumps(cfg.to_dict())))
    assert json.loads(json.dumps(_flat(back))) == json.loads(json.dumps(_flat(cfg)))


def test_each_family_holds_only_its_own_keys():
    gan, vae = _flat(base_config()), _flat(vae_config())
    rnn, prior = (
        _flat(task_class("samplernn").default_config()),
        _flat(task_class("latent_prior").default_config()),
    )
    # the GAN-only keys the former shared schema gave every family
    for key in ("model.dim", "model.phase_shuffle", "loss.gp_weight", "train.d_steps"):
        assert key in gan
        assert key not in vae and key not in rnn and key not in prior
    assert not any(k.startswith("loss.") for k in rnn) and not any(
        k.startswith("loss.") for k in prior
    )
    assert "model.pqmf_bands" in vae and "model.pqmf_bands" not in gan
    assert vae["model.discriminator.names"] == ("mpd", "stft")
    # the shared sections are the same in all
    for flat in (vae, rnn, prior):
        assert {k: v for k, v in flat.items() if k.startswith("data.")} == {
            k: v for k, v in gan.items() if k.startswith("data.")
        }


def test_a_gan_key_on_a_vae_config_is_an_unknown_key():
    with pytest.raises(ConfigError, match="unknown config key 'train.d_steps'"):
        load_config(str(REPO / "experiments/vae_notes.py:tiny"), ["train.d_steps=2"])
    with pytest.raises(ConfigError, match="unknown config key 'model.vae_capacity'"):
        load_config(str(REPO / "experiments/vae_notes.py:tiny"), ["model.vae_capacity=8"])


def _legacy_vae_config() -> dict:
    """A VAE config as wavegen wrote it before each family had its own schema: the GAN's
    model/loss/train keys beside flat ``model.vae_*`` / ``model.disc_*`` ones."""
    legacy = base_config().to_dict()
    legacy["model"].update(
        name="vae",
        latent_dim=8,
        pqmf_bands=4,
        pqmf_attenuation=100.0,
        vae_capacity=4,
        vae_max_channels=8,
        vae_ratios=[2, 2],
        vae_dilations=[1, 3],
        vae_kernel_size=5,  # beside the GAN's kernel_size = 25, which the VAE never read
        vae_upsample="nearest",
        vae_activation="snake",
        vae_harmonics=0,
        vae_f0_range=[40.0, 2000.0],
        discriminators=["mpd"],
        disc_channels=4,
        disc_periods=[2, 3],
        disc_fft_sizes=[512],
        disc_scales=2,
    )
    legacy["loss"].update(name="lsgan", weights={"recon/stft": 1.0, "kl": 0.5}, kl_beta_start=1e-3)
    legacy["train"].update(adversarial_start=10, num_heldout=8, batch_size=4)
    return legacy


def test_a_legacy_vae_config_moves_to_the_new_names():
    cfg = upgrade_config(_legacy_vae_config())
    m = cfg.model
    assert (m.capacity, m.max_channels, m.ratios, m.dilations) == (4, 8, (2, 2), (1, 3))
    assert (m.kernel_size, m.upsample, m.activation, m.latent_dim) == (5, "nearest", "snake", 8)
    assert m.f0_range == (40.0, 2000.0) and m.harmonics == 0
    d = m.discriminator
    assert (d.names, d.channels, d.periods, d.fft_sizes, d.scales) == (
        ("mpd",),
        4,
        (2, 3),
        (512,),
        2,
    )
    assert cfg.loss.name == "lsgan" and cfg.loss.kl_beta_start == 1e-3
    assert cfg.loss.weights["kl"] == 0.5 and cfg.loss.weights["recon/stft"] == 1.0
    # weights the legacy file did not list take the schema's defaults
    assert cfg.loss.weights["g/feature_matching"] == vae_config().loss.weights["g/feature_matching"]
    assert (cfg.train.adversarial_start, cfg.train.num_heldout, cfg.train.batch_size) == (10, 8, 4)
    flat = _flat(cfg)
    assert "train.d_steps" not in flat and "loss.gp_weight" not in flat and "model.dim" not in flat
    assert set(flat) == set(_flat(vae_config()))  # exactly the VAE schema's keys
    # every legacy name has somewhere to go
    assert set(LEGACY_RENAMES["vae"].values()) <= set(flat)


def test_keys_the_schema_gained_take_their_defaults():
    saved = vae_config().to_dict()
    del saved["train"]["num_heldout"], saved["model"]["discriminator"]["scales"]
    cfg = upgrade_config(saved)
    assert cfg.train.num_heldout == 64 and cfg.model.discriminator.scales == 3


def test_unknown_keys_wrong_types_and_unknown_families_are_errors_naming_them(tmp_path):
    saved = vae_config().to_dict()
    saved["model"]["capacty"] = 4
    with pytest.raises(RunConfigError, match="'model.capacty' is not in the 'vae'"):
        upgrade_config(saved, "run/config.json")
    saved = vae_config().to_dict()
    saved["model"]["capacity"] = "wide"
    with pytest.raises(RunConfigError, match="run/config.json: .*model.capacity"):
        upgrade_config(saved, "run/config.json")
    with pytest.raises(RunConfigError, match="model.name must be one of"):
        upgrade_config({"model": {"name": "wavenet"}})
    path = tmp_path / "config.json"
    with pytest.raises(RunConfigError, match="is missing"):
        read_run_config(path)
    path.write_text("{not json")
    with pytest.raises(RunConfigError, match="not a readable JSON config"):
        read_run_config(path)
    path.write_text("[1, 2]")
    with pytest.raises(RunConfigError, match="expected a JSON object"):
        read_run_config(path)


def test_a_legacy_run_resumes_and_a_changed_one_is_refused(tmp_path):
    """write_config compares the workdir's config in the current schema, so a run written with
    the former names resumes with the same settings; a real change is still refused."""
    from wavegen.train.checkpoint import CheckpointError

    (tmp_path / "config.json").write_text(json.dumps(_legacy_vae_config()))
    current = upgrade_config(_legacy_vae_config()).to_dict()
    write_config(tmp_path, current)
    assert json.loads((tmp_path / "config.json").read_text())["model"]["capacity"] == 4
    (tmp_path / "config.json").write_text(json.dumps(_legacy_vae_config()))
    current["model"]["capacity"] = 8
    with pytest.raises(CheckpointError, match="model.capacity"):
        write_config(tmp_path, current)
