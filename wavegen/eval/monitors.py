"""Diversity monitors the training loop runs on generated clips every ``train.sample_every`` steps.

The loop calls ``monitor.setup(dataset)`` once with the training ``AudioDataset``, then
``scalars = monitor(clips, labels)`` on ``train.monitor_num`` clips [M, T] generated from fixed
latents (labels [M] int dataset label indices for a conditional model, else None) and writes
the returned ``{name: float}`` to TensorBoard. Mode collapse shows as falling
``pitch/distinct`` / ``class/entropy`` and a rising ``pitch/jsd`` / ``class/max_share_ratio``
long before the losses say anything.

- :class:`PitchMonitor`: :func:`wavegen.eval.pitch.pitch_diversity` against the notes of the
  training clips (no trained model needed; for one-note-per-clip data).
- :class:`ClassifierMonitor`: the evaluation classifier's predicted-class histogram (entropy,
  largest share), the Inception Score of the M clips and, for conditional models, how often the
  requested class is heard.
- :class:`ReconstructionMonitor`: for autoencoders (the VAE) the loop instead hands
  ``monitor(inputs, reconstructions)`` of the task's fixed held-out batch
  (``task.monitor_reconstructions``) to monitors marked ``pairs = True``; this one logs the pitch
  and loudness fidelity of :func:`wavegen.eval.reconstruction.reconstruction_fidelity` as
  ``recon/f0_within_50c``, ``recon/f0_median_error_cents``, ``recon/f0_num_clips`` and
  ``recon/loudness_corr``.
- :func:`build_monitors`: the monitors a config asks for (``train.monitor``,
  ``train.monitor_classifier``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from wavegen.config import ConfigError
from wavegen.data.presets import PITCH_SETTINGS

log = logging.getLogger(__name__)

MONITOR_NAMES = ("pitch", "classifier", "reconstruction")
# model.name values whose task reconstructs held-out clips instead of sampling monitor clips.
RECONSTRUCTION_MODELS = ("vae",)


class PitchMonitor:
    """Pitch coverage of generated clips against the notes of the training set.

    Args:
        max_reference_clips: training clips analysed for the reference notes (evenly spaced).
        **f0_kwargs: :func:`wavegen.eval.pitch.estimate_f0` settings (fmin, fmax, ...).
    """

    name = "pitch"

    def __init__(self, max_reference_clips: int = 512, **f0_kwargs: Any):
        self.max_reference_clips = int(max_reference_clips)
        self.f0_kwargs = dict(f0_kwargs)
        self.reference = None

    def setup(self, dataset: Any) -> None:
        """Builds the reference notes from ``dataset.waveforms`` [N, T] at its sample rate."""
        from wavegen.eval.pitch import PitchReference

        self.reference = PitchReference.from_waves(
            np.asarray(dataset.waveforms),
            int(dataset.sample_rate),
            self.max_reference_clips,
            **self.f0_kwargs,
        )
        if not self.reference.notes:
            log.warning(
                "pitch monitor: none of %d training clips is a clean note; it reports nothing "
                "(set train.monitor to leave it out)",
                self.reference.num_clips,
            )
        else:
            log.info(
                "pitch monitor: %d reference notes (MIDI %d..%d) from %d of %d clips",
                len(self.reference.notes),
                self.reference.notes[0],
                self.reference.notes[-1],
                self.reference.num_clean,
                self.reference.num_clips,
            )

    def __call__(self, clips: np.ndarray, labels: np.ndarray | None = None) -> dict[str, float]:
        """clips [M, T] float32 → the ``pitch/*`` scalars (empty without reference notes)."""
        from wavegen.eval.pitch import pitch_diversity

        if self.reference is None:
            raise RuntimeError("PitchMonitor.setup(dataset) must be called first")
        if not self.reference.notes:
            return {}
        waves = np.nan_to_num(np.asarray(clips, np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        return pitch_diversity(waves, self.reference.sample_rate, self.reference)


class ReconstructionMonitor:
    """Pitch and loudness fidelity of an autoencoder's reconstructions of fixed held-out clips.

    Args:
        **f0_kwargs: :func:`wavegen.eval.pitch.estimate_f0` settings (fmin, fmax, ...).
    """

    name = "reconstruction"
    pairs = True  # the loop calls it with (inputs, reconstructions), not generated clips

    def __init__(self, **f0_kwargs: Any):
        self.f0_kwargs = dict(f0_kwargs)
        self.sample_rate: int | None = None
        self._inputs: np.ndarray | None = None
        self._input_track = None

    def setup(self, dataset: Any) -> None:
        """Reads the sample rate of the training ``dataset`` (the held-out clips share it)."""
        self.sample_rate = int(dataset.sample_rate)

    def __call__(self, inputs: np.ndarray, reconstructions: np.ndarray) -> dict[str, float]:
        """inputs, reconstructions [N, T] float32 → the finite ``recon/*`` scalars.

        The f0 scalars are left out when no input has a confident f0, the median error also
        when no reconstruction has a frame voiced where its input is.
        """
        from wavegen.eval.pitch import estimate_f0
        from wavegen.eval.reconstruction import finite_waves, reconstruction_fidelity

        if self.sample_rate is None:
            raise RuntimeError("ReconstructionMonitor.setup(dataset) must be called first")
        x = finite_waves(inputs)
        # The held-out batch is the same at every call: its f0 track is computed once.
        if self._inputs is None or not np.array_equal(self._inputs, x):
            self._inputs = x
            self._input_track = estimate_f0(x, self.sample_rate, **self.f0_kwargs)
        m = reconstruction_fidelity(
            x, reconstructions, self.sample_rate, input_track=self._input_track, **self.f0_kwargs
        )
        out = {
            "recon/f0_within_50c": m["f0_within_50c"],
            "recon/f0_median_error_cents": m["f0_median_error_cents"],
            "recon/f0_num_clips": m["f0_num_clips"],
            "recon/loudness_corr": m["loudness_correlation"],
        }
        return {k: float(v) for k, v in out.items() if np.isfinite(v)}


class ClassifierMonitor:
    """Predicted-class statistics of generated clips under the evaluation classifier.

    Args:
        classifier_dir: a folder written by ``wavegen eval train-classifier``.

    Raises:
        ConfigError: the folder is not a loadable classifier (names ``train.monitor_classifier``).
    """

    name = "classifier"

    def __init__(self, classifier_dir: str):
        from wavegen.eval.classifier import ClassifierError, load_classifier

        try:
            self.classifier = load_classifier(classifier_dir)
        except ClassifierError as e:
            raise ConfigError(f"train.monitor_classifier={classifier_dir!r}: {e}") from e
        self.classifier_dir = str(classifier_dir)
        self._label_map: np.ndarray | None = None

    def setup(self, dataset: Any) -> None:
        """Checks the rate and maps the dataset's label indices to the classifier's classes."""
        clf = self.classifier
        if int(dataset.sample_rate) != clf.sample_rate:
            raise ConfigError(
                f"train.monitor_classifier={self.classifier_dir!r} was trained at "
                f"{clf.sample_rate} Hz but the training data is at {dataset.sample_rate} Hz"
            )
        index = {name: i for i, name in enumerate(clf.label_names)}
        names = [str(n) for n in getattr(dataset, "label_names", [])]
        # Dataset label index → classifier class index; -1 where the classifier lacks the name.
        self._label_map = np.asarray([index.get(n, -1) for n in names], np.int64)
        unknown = [n for n in names if n not in index]
        if unknown:
            log.warning(
                "classifier monitor: the classifier does not know the labels %s; class/accuracy "
                "leaves those clips out",
                unknown[:10],
            )

    def __call__(self, clips: np.ndarray, labels: np.ndarray | None = None) -> dict[str, float]:
        """clips [M, T] float32, labels [M] dataset label indices or None → ``class/*`` scalars.

        Returns:
            ``class/entropy`` (bits), ``class/max_share_ratio``, ``class/inception_score`` (one
            split) and, when labels are given, ``class/accuracy`` (fraction of clips whose
            predicted class is the requested one, over clips whose label the classifier knows).
        """
        from wavegen.eval.evaluate import fit_length
        from wavegen.eval.metrics import inception_score

        clf = self.classifier
        waves = fit_length(np.asarray(clips, np.float32), clf.length)
        waves = np.nan_to_num(waves, nan=0.0, posinf=0.0, neginf=0.0)  # a diverged generator
        probs = clf.predict_proba(waves)
        pred = np.argmax(probs, axis=1)
        out = class_histogram_stats(np.bincount(pred, minlength=len(clf.label_names)))
        out["class/inception_score"] = inception_score(probs, 1)[0]
        if labels is not None and self._label_map is not None:
            lab = np.asarray(labels, np.int64)
            valid = (lab >= 0) & (lab < len(self._label_map))
            want = np.where(valid, self._label_map[np.where(valid, lab, 0)], -1)
            known = want >= 0
            if np.any(known):
                out["class/accuracy"] = float(np.mean(pred[known] == want[known]))
        return out


def class_histogram_stats(counts: Sequence[int] | np.ndarray) -> dict[str, float]:
    """Collapse statistics of a predicted-class histogram.

    Args:
        counts: [K] clips predicted as each class.

    Returns:
        ``class/entropy``: entropy in bits of the class shares (log2 K when uniform, 0 when all
        clips are one class); ``class/max_share_ratio``: the largest share over the uniform
        share 1/K (1 when uniform, K when collapsed onto one class).
    """
    from wavegen.eval.evaluate import class_distribution

    entropy, ratio = class_distribution(counts)
    return {"class/entropy": entropy, "class/max_share_ratio": ratio}


def _names(value: str) -> list[str]:
    return [n.strip().lower() for n in str(value).split(",") if n.strip()]


def build_monitors(config: Any) -> list:
    """The monitors ``config`` asks for, not yet set up.

    Reads ``train.monitor``: 'auto' (for ``model.name`` in :data:`RECONSTRUCTION_MODELS` the
    reconstruction monitor; else pitch for ``data.source`` in :data:`PITCH_SETTINGS` and
    classifier when ``train.monitor_classifier`` is set), 'none', or a comma list of
    :data:`MONITOR_NAMES`; and ``train.monitor_classifier`` (classifier folder, '' = none).

    Raises:
        ConfigError: an unknown monitor name, 'classifier' without a classifier folder, or a
            monitor the model cannot feed ('reconstruction' for a generator, 'pitch' or
            'classifier' for an autoencoder, whose task makes no monitor samples).
    """
    train = config.train
    value, classifier_dir = train.monitor, str(train.monitor_classifier)
    source = str(config.data.source)
    model_name = str(config.model.name)
    autoencoder = model_name in RECONSTRUCTION_MODELS
    names = _names(value)
    if names in ([], ["none"]):
        return []
    if names == ["auto"]:
        if autoencoder:
            names = ["reconstruction"]
        else:
            names = (["pitch"] if source in PITCH_SETTINGS else []) + (
                ["classifier"] if classifier_dir else []
            )
    else:
        bad = [n for n in names if n not in MONITOR_NAMES]
        if bad:
            raise ConfigError(
                f"train.monitor={value!r}: unknown monitor(s) {bad}; expected 'auto', 'none' or "
                f"a comma list of {list(MONITOR_NAMES)}"
            )
        unfed = [n for n in names if (n == "reconstruction") != autoencoder]
        if unfed:
            what = "generated clips" if autoencoder else "reconstructions"
            raise ConfigError(
                f"train.monitor={value!r}: model.name={model_name!r} gives no "
                f"{what} for the monitor(s) {unfed}"
            )
    monitors: list = []
    for name in dict.fromkeys(names):  # in order, once each
        if name == "pitch":
            monitors.append(PitchMonitor(**PITCH_SETTINGS.get(source, {})))
        elif name == "reconstruction":
            monitors.append(ReconstructionMonitor(**PITCH_SETTINGS.get(source, {})))
        else:
            if not classifier_dir:
                raise ConfigError(
                    f"train.monitor={value!r} asks for the classifier monitor but "
                    "train.monitor_classifier is empty; set it to a `wavegen eval "
                    "train-classifier` folder"
                )
            monitors.append(ClassifierMonitor(classifier_dir))
    return monitors
