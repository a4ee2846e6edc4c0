"""Build script: the Cython backend's extensions.  Metadata lives in pyproject.toml.

The kernel loops are generated from fastact/_cython/_kernels.pyx.tp (Tempita)
and the op table, then compiled once per instruction-set level: a baseline x86-64 (or native-arch
default) variant and, on x86-64, AVX2+FMA and AVX-512 variants; fastact picks
one at import from the CPU's features.  -O3, never -ffast-math (it breaks NaN/inf
handling) and never -march=native (the build must run on other machines).
OpenMP is used when the compiler supports it; without it the kernels are serial.
FASTACT_OPENMP=0 forces a serial build and FASTACT_BUILD_VARIANTS=baseline,avx2
limits the variants (both for tests).
"""

import os
import platform
import runpy
import subprocess
import sys
import sysconfig
import tempfile
import warnings
from pathlib import Path

from setuptools import Extension, setup

HERE = Path(__file__).resolve().parent
CYTHON_DIR = HERE / "fastact" / "_cython"
X86 = platform.machine().lower() in ("x86_64", "amd64", "i686", "x86")
PARALLEL_MIN_ELEMENTS = 1 << 16
# Lets GCC turn selects with floating-point arms into blends (vectorisable) and
# treat libm as pure.  Neither changes results: they waive FP-exception flags and
# errno, unlike -ffast-math, whose finite-math and reassociation would.
SAFE_MATH = ["-fno-trapping-math", "-fno-math-errno"]
# `omp simd` pragmas (the row sums' reductions) work even without OpenMP threads.
SIMD = ["-fopenmp-simd"]


def elementwise_kernels():
    """(scalar name, number of arrays, number of scalar params) for every elementwise loop."""
    catalogue = runpy.run_path(str(HERE / "fastact" / "catalogue.py"))
    kernels = []
    for op in catalogue["OPS"]:
        if op.kind != "elementwise":
            continue
        n_params = sum(p.check != "choice" for p in op.params)
        names = [op.name] + [f"{op.name}_{c}" for p in op.params if p.check == "choice"
                             for c in p.choices if c != p.default]
        for name in names:
            kernels += [(name, 1, n_params), (name + "_backward", 2, n_params)]
    return kernels


def render_kernels(module):
    """Write fastact/_cython/<module>.pyx from the template (only when it changed)."""
    from Cython import Tempita

    template = (CYTHON_DIR / "_kernels.pyx.tp").read_text()
    text = Tempita.sub(template, elementwise=elementwise_kernels(),
                       parallel_min=PARALLEL_MIN_ELEMENTS)
    target = CYTHON_DIR / f"{module}.pyx"
    if not target.exists() or target.read_text() != text:
        target.write_text(text)
    return target


def compiler_accepts(flags):
    """Whether the C compiler builds and links a trivial OpenMP program with these flags."""
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "probe.c"
        source.write_text("#include <omp.h>\nint main(void){return omp_get_max_threads() < 1;}\n")
        try:
            result = subprocess.run(cc.split() + [str(source), "-o", str(Path(tmp) / "probe")]
                                    + flags, capture_output=True)
        except OSError:
            return False
        return result.returncode == 0


def extensions():
    import numpy

    openmp = ["-fopenmp"] if sys.platform != "win32" else ["/openmp"]
    if os.environ.get("FASTACT_OPENMP", "").strip() == "0":  # for testing a serial build
        openmp = []
    elif not compiler_accepts(openmp):
        warnings.warn("the C compiler has no OpenMP: fastact's Cython kernels will run serially")
        openmp = []
    if not openmp:
        print("fastact: building the Cython kernels without OpenMP (serial)", file=sys.stderr)
    variants = {"_kernels_baseline": []}
    if X86:
        variants["_kernels_avx2"] = ["-mavx2", "-mfma"]
        # x86-64-v4: 16 floats a vector where the CPU has it (PyTorch uses it there too)
        variants["_kernels_avx512"] = ["-mavx512f", "-mavx512dq", "-mavx512bw", "-mavx512vl",
                                       "-mavx2", "-mfma", "-mprefer-vector-width=512"]
    only = os.environ.get("FASTACT_BUILD_VARIANTS", "").strip()  # e.g. "baseline", for tests
    if only:
        variants = {k: v for k, v in variants.items() if k.removeprefix("_kernels_") in only.split(",")}
    built = []
    for module, arch in variants.items():
        built.append(Extension(
            f"fastact._cython.{module}",
            [str(render_kernels(module).relative_to(HERE))],
            include_dirs=[numpy.get_include(), str(CYTHON_DIR)],
            extra_compile_args=["-O3", *SAFE_MATH, *SIMD] + arch + openmp,
            extra_link_args=openmp,
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        ))
    from Cython.Build import cythonize

    return cythonize(built, include_path=[str(HERE)], language_level=3)


setup(ext_modules=extensions())
