"""Self-conditioned GANs (data.clusters): config check, label draws, meta and eval's view."""

import numpy as np
import pytest

from tests.train.test_gan_training import TINY
from wavegen.config import ConfigError, load_config
from wavegen.data.pipeline import build_dataset
from wavegen.eval.evaluate import _generate
from wavegen.train import build_task
from wavegen.train.loop import fit
from wavegen.train.runs import load_run


def test_clusters_need_one_class_per_cluster():
    cfg = load_config(TINY, ["data.clusters=4"])  # model.num_classes stays 0
    with pytest.raises(ConfigError, match="model.num_classes"):
        build_task(cfg)


def test_unasked_labels_follow_the_cluster_shares():
    task = build_task(load_config(TINY, ["data.clusters=4", "model.num_classes=4"]))
    task.cluster_counts = [30, 10, 0, 0]
    labels = task.default_labels(4000, seed=3)
    shares = np.bincount(labels, minlength=4) / 4000
    # Binomial sd of a 0.75 share over 4000 draws is 0.0068: 4 sd.
    np.testing.assert_allclose(shares, [0.75, 0.25, 0.0, 0.0], atol=0.028)
    np.testing.assert_array_equal(task.default_labels(16, seed=3), labels[:16])  # seeded
    # Class-conditional models still cycle through the classes.
    plain = build_task(load_config(TINY, ["model.num_classes=3"]))
    np.testing.assert_array_equal(plain.default_labels(5, seed=3), [0, 1, 2, 0, 1])


def test_self_conditioned_run_keeps_its_shares_and_evaluates_as_unconditional(tmp_path):
    cfg = load_config(TINY, ["data.clusters=2", "model.num_classes=2", "train.num_steps=1"])
    fit(build_task(cfg), tmp_path, progress=False)
    clips, _, _, requested = _generate(tmp_path, 6, 0, None)
    assert requested is None and clips.shape[0] == 6
    # The shares come back from the run's meta, as the training split's cluster sizes.
    task, _, _ = load_run(tmp_path)
    train = build_dataset(cfg.data)
    assert task.cluster_counts == np.bincount(train.labels, minlength=2).tolist()
    assert sum(task.cluster_counts) == len(train)
