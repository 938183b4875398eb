"""The slow guards, run in CI (CI=true) or when CKPTIO_SLOW_TESTS=1:

- the whole test suite again against an AddressSanitizer + UndefinedBehaviorSanitizer build of
  the extension (any memory error or UB aborts it);
- every fuzz target (fuzz/) built with sanitizers and coverage, run for a bounded time from
  seeds of real checkpoints.

Both build from this checkout with cmake; they take a few minutes, so a plain local `pytest` run
skips them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SLOW = bool(os.environ.get("CI")) or os.environ.get("CKPTIO_SLOW_TESTS") == "1"
UNDER_SANITIZER = os.environ.get("CKPTIO_UNDER_SANITIZER") == "1"
FUZZ_SECONDS = int(os.environ.get("CKPTIO_FUZZ_SECONDS", "30"))
FUZZ_TARGETS = ["table", "proto", "snappy", "bundle", "v1"]

pytestmark = [
    pytest.mark.skipif(not SLOW, reason="slow: runs in CI, or set CKPTIO_SLOW_TESTS=1"),
    pytest.mark.skipif(UNDER_SANITIZER, reason="already running under the sanitizer build"),
    pytest.mark.skipif(sys.platform != "linux", reason="sanitizer runtimes are set up for Linux"),
]


def _runtime(name: str) -> str:
    path = subprocess.run(
        ["c++", f"-print-file-name={name}"], capture_output=True, text=True, check=True
    ).stdout.strip()
    if not os.path.isabs(path):
        pytest.skip(f"the C++ compiler has no {name}")
    return path


def report(capsys, text: str) -> None:
    with capsys.disabled():
        print("\n" + text)


def test_suite_under_address_and_ub_sanitizers(tmp_path, capsys):
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(site),
            "-Ccmake.define.CKPTIO_SANITIZE=ON",
            f"-Cbuild-dir={tmp_path / 'build'}",
            str(ROOT),
        ],
        check=True,
    )
    # Load the sanitized extension ahead of any installed (or editable) ckptio.
    bootstrap = (
        "import sys\n"
        "sys.meta_path[:] = [f for f in sys.meta_path if 'ScikitBuild' not in type(f).__name__]\n"
        f"sys.path.insert(0, {str(site)!r})\n"
        "import ckptio._core, pytest\n"
        f"assert ckptio._core.__file__.startswith({str(site)!r}), ckptio._core.__file__\n"
        "sys.exit(pytest.main(sys.argv[1:]))\n"
    )
    env = dict(
        os.environ,
        CKPTIO_UNDER_SANITIZER="1",
        LD_PRELOAD=f"{_runtime('libasan.so')}:{_runtime('libubsan.so')}",
        # Python and TensorFlow are not built with ASan; their allocations are not ours to judge.
        ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1",
        UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1",
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            bootstrap,
            str(ROOT / "tests"),
            "-q",
            "-p",
            "no:cacheprovider",
            "-x",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    tail = "\n".join(proc.stdout.splitlines()[-3:])
    report(capsys, f"sanitized suite: {tail}")
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]


@pytest.fixture(scope="module")
def fuzz_build(tmp_path_factory) -> Path:
    if shutil.which("cmake") is None:
        pytest.skip("cmake is not installed (it comes with the test extra)")
    build = tmp_path_factory.mktemp("fuzz-build")
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    subprocess.run(
        [
            "cmake",
            "-S",
            str(ROOT),
            "-B",
            str(build),
            *generator,
            "-DCKPTIO_PYTHON=OFF",
            "-DCKPTIO_FUZZ=ON",
            "-DCKPTIO_SANITIZE=ON",
            "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(["cmake", "--build", str(build), "-j2"], check=True, capture_output=True)
    return build


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("seeds")
    subprocess.run(
        [sys.executable, str(ROOT / "fuzz" / "make_seeds.py"), str(out)],
        check=True,
        capture_output=True,
    )
    return out


@pytest.mark.parametrize("target", FUZZ_TARGETS)
def test_fuzz_target_runs_clean(target, fuzz_build, seeds, tmp_path, capsys):
    proc = subprocess.run(
        [
            str(fuzz_build / f"fuzz_{target}"),
            f"-max_total_time={FUZZ_SECONDS}",
            f"-artifact_prefix={tmp_path}/",
            str(seeds / target),
        ],
        capture_output=True,
        text=True,
        timeout=FUZZ_SECONDS * 4 + 60,
        check=False,
        env=dict(os.environ, ASAN_OPTIONS="detect_leaks=1:halt_on_error=1"),
    )
    summary = [line for line in proc.stdout.splitlines() if line.startswith("fuzz:")]
    report(capsys, f"fuzz_{target}: {summary[-1] if summary else proc.stdout[-300:]}")
    crashes = list(tmp_path.glob("*-input"))
    assert proc.returncode == 0 and not crashes, (
        f"fuzz_{target} failed; reproducer {crashes}:\n{proc.stderr[-5000:]}"
    )
    assert summary and summary[-1].endswith("crashes 0")
