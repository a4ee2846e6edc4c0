"""The Cython backend's two compiled variants, and its OpenMP and thread-cap behaviour."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastact

pytestmark = pytest.mark.skipif("cython" not in fastact.backends(),
                                reason="the Cython extensions are not built")
TESTS = Path(__file__).resolve().parent


def test_the_best_variant_the_cpu_supports_is_used():
    from fastact import _cpu
    from fastact._cython import backend

    cpu = set(_cpu.features())
    best = next(name for name, needs in backend._VARIANTS.items() if needs <= cpu)
    assert backend.variant() == best


def _supported_variants():
    from fastact import _cpu
    from fastact._cython import backend

    cpu = set(_cpu.features())
    return [name.removeprefix("_kernels_") for name, needs in backend._VARIANTS.items()
            if needs <= cpu]


def _built(variant):
    import importlib.util

    return importlib.util.find_spec(f"fastact._cython._kernels_{variant}") is not None


@pytest.mark.parametrize("variant", _supported_variants())
def test_each_variant_passes_the_backend_suite(variant):
    """The differential, non-finite, gradient and float32-sweep tests on each build the CPU
    can run (FASTACT_CPU_VARIANT), not only the one chosen by default.  A default install
    builds only the best one: FASTACT_BUILD_VARIANTS=supported builds the others."""
    if not _built(variant):
        pytest.skip(f"the {variant} variant is not built (pip install with "
                    "FASTACT_BUILD_VARIANTS=supported builds every variant this CPU runs)")
    env = {**os.environ, "FASTACT_CPU_VARIANT": variant}
    code = (f"from fastact._cython import backend; assert backend.variant() == '_kernels_{variant}';"
            "import pytest, sys; sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', '-k', "
            "'cython', *sys.argv[1:]]))")
    files = ["test_backends.py", "test_nonfinite.py", "test_gradients.py", "test_float32_sweep.py"]
    result = subprocess.run([sys.executable, "-c", code, *(str(TESTS / f) for f in files)],
                            capture_output=True, text=True, env=env, timeout=900,
                            cwd=TESTS.parent)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.mark.parametrize("value, message", [
    ("sse9", "expected one of avx512, avx2, baseline"),
    ("avx1024", "expected one of"),
])
def test_an_unknown_variant_makes_the_backend_unavailable_with_the_reason(value, message):
    code = "import fastact; print(fastact.unavailable_backends().get('cython'))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "FASTACT_CPU_VARIANT": value}, timeout=120)
    assert message in result.stdout, result.stdout + result.stderr


def test_threadpoolctl_sees_and_limits_the_openmp_threads():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from fastact._cython import backend

    if not backend.kernels().OPENMP:
        pytest.skip("built without OpenMP")
    x = np.random.default_rng(0).normal(size=1 << 18).astype(np.float32)
    fastact.gelu(x, backend="cython")
    apis = {info["user_api"] for info in threadpoolctl.threadpool_info()}
    assert "openmp" in apis
    with threadpoolctl.threadpool_limits(1, user_api="openmp"), fastact.num_threads(2):
        np.testing.assert_allclose(fastact.gelu(x, backend="cython"),
                                   fastact.gelu(x, backend="numpy"), rtol=1e-5, atol=1e-30)


@pytest.mark.skipif(not (TESTS.parent / "setup.py").exists(), reason="needs the source tree")
def test_a_build_without_openmp_works_serially(tmp_path):
    """The no-OpenMP build: baseline variant compiled serially, with a message, and correct."""
    import shutil

    root = TESTS.parent
    shutil.copytree(root / "fastact", tmp_path / "fastact",
                    ignore=shutil.ignore_patterns("*.so", "*.c", "_kernels_*.pyx", "__pycache__"))
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy(root / name, tmp_path / name)
    env = {**os.environ, "FASTACT_OPENMP": "0", "FASTACT_BUILD_VARIANTS": "baseline"}
    build = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"], cwd=tmp_path,
                           capture_output=True, text=True, env=env, timeout=900)
    assert build.returncode == 0, build.stderr[-3000:]
    assert "without OpenMP (serial)" in build.stderr
    check = ("import numpy as np, fastact\n"
             "from fastact._cython import backend\n"
             "assert backend.variant() == '_kernels_baseline', backend.variant()\n"
             "assert backend.kernels().OPENMP is False\n"
             "x = np.random.default_rng(0).normal(size=1 << 18).astype(np.float32)\n"
             "with fastact.num_threads(2):\n"
             "    y = fastact.gelu(x, approximate='tanh', backend='cython')\n"
             "np.testing.assert_allclose(y, fastact.gelu(x, approximate='tanh', backend='numpy'),"
             " rtol=1e-5, atol=1e-30)\n"
             "print('ok')\n")
    result = subprocess.run([sys.executable, "-c", check], cwd=tmp_path, capture_output=True,
                            text=True, env={**os.environ, "PYTHONPATH": str(tmp_path)}, timeout=300)
    assert result.stdout.strip() == "ok", result.stderr[-3000:]


def test_prelu_backward_kernel_checks_its_arrays():
    """The fused prelu backward takes its arrays' data pointers itself (typed memoryviews
    cost ~0.3 us each): what its loop assumes is checked first, and a wrong array is a
    ValueError, never a read or write out of bounds."""
    from fastact._cython import backend

    kernel = backend.kernels().prelu_backward_f32
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 5)).astype(np.float32)
    g = rng.standard_normal((2, 3, 5)).astype(np.float32)
    w = np.array([0.25, -0.5, 2.0], np.float32)
    out, gw = np.empty_like(x), np.empty(3, np.float32)
    kernel(g, x, w, out, gw)
    expected = np.where(x > 0, g, g * w[:, None])
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_allclose(gw, np.where(x > 0, 0, x * g).sum(axis=(0, 2)), rtol=1e-6)
    read_only = np.empty_like(x)
    read_only.flags.writeable = False
    bad = {"g of another shape": (g[:, :, :4].copy(), x, w, out, gw),
           "non-contiguous x": (g, np.asfortranarray(x), w, out, gw),
           "float64 x": (g, x.astype(np.float64), w, out, gw),
           "byte-swapped g": (g.astype(">f4"), x, w, out, gw),
           "2-d x": (g, x.reshape(6, 5), w, out, gw),
           "one weight for three channels": (g, x, w[:1].copy(), out, gw),
           "read-only out": (g, x, w, read_only, gw),
           "short grad_weight": (g, x, w, out, gw[:2]),
           "a list": (g, x, list(w), out, gw),
           "None": (g, x, w, None, gw)}
    for what, args in bad.items():
        with pytest.raises((ValueError, TypeError)):
            kernel(*args)
            pytest.fail(what)
