"""Test set-up: 8 simulated CPU devices, a persistent numba cache, and the shared-data fixture."""

import os
from pathlib import Path

# Must happen before jax is imported anywhere: the data-parallel tests need 8 devices.
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# librosa JIT-compiles with numba; a persistent cache saves ~10 s per test process.
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path.home() / ".cache" / "wavegen-numba"))

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from wavegen.train.host_memory import retain_freed_memory  # noqa: E402
from wavegen.train.parallel import enable_compilation_cache  # noqa: E402

# Compiled train steps are re-used across tests and test runs (the tiny models' HLO is stable).
enable_compilation_cache(
    os.environ.get("WAVEGEN_JAX_CACHE", str(Path.home() / ".cache" / "wavegen-jax-tests"))
)

# As `wavegen` runs: keep freed host memory, so jitted calls do not page-fault their buffers in.
retain_freed_memory()

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path | None:
    """``$WAVEGEN_SHARED_DATA`` or ``../shared/data`` beside the repo, if it exists."""
    env = os.environ.get("WAVEGEN_SHARED_DATA")
    path = Path(env) if env else REPO.parent / "shared" / "data"
    return path if path.is_dir() else None


@pytest.fixture
def shared_data() -> Path:
    path = shared_data_dir()
    if path is None:
        pytest.skip(
            "shared audio data not found: set WAVEGEN_SHARED_DATA or place it at ../shared/data"
        )
    return path


@pytest.fixture
def signals():
    """Two noisy 440 Hz tones at 8 kHz and their noisier copies: (x, y), each [2, 1000] float32."""
    rng = np.random.default_rng(0)
    t = np.arange(1000) / 8000.0
    y = 0.5 * np.sin(2 * np.pi * 440 * t)[None] + 0.1 * rng.normal(size=(2, 1000))
    x = y + 0.2 * rng.normal(size=(2, 1000))
    return x.astype(np.float32), y.astype(np.float32)


# The tests that skip when the machine lacks a client (chromium, libtpu) or the shared data: the
# run's summary says how each of them ended, so a CI log shows that they ran, not just that
# nothing failed.
MACHINE_MARKERS = ("browser", "aot", "data")
_machine_outcomes: dict[str, dict[str, list[str]]] = {m: {} for m in MACHINE_MARKERS}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    # A test's outcome is its call phase's, or set-up's when it skipped or errored before the call.
    if report.when == "call" or (report.when == "setup" and not report.passed):
        for marker in MACHINE_MARKERS:
            if item.get_closest_marker(marker) is not None:
                _machine_outcomes[marker].setdefault(report.outcome, []).append(item.nodeid)


def pytest_terminal_summary(terminalreporter):
    lines = []
    for marker, outcomes in _machine_outcomes.items():
        if outcomes:
            counts = ", ".join(f"{len(ids)} {name}" for name, ids in sorted(outcomes.items()))
            lines.append(f"{marker}: {counts}")
            lines += [f"  {name.upper()} {i}" for name, ids in outcomes.items() for i in ids]
    if lines:
        terminalreporter.write_sep("-", "machine-dependent tests (markers browser, aot, data)")
        for line in lines:
            terminalreporter.write_line(line)
