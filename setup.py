"""Build script: the Cython backend's extensions.  Metadata lives in pyproject.toml.

The kernel loops are generated from fastact/_cython/_kernels.pyx.tp (Tempita)
and the op table, then compiled once per instruction-set level: a baseline x86-64 (or
native-arch default) variant and, on x86-64, AVX2+FMA and AVX-512 variants; fastact picks
one at import from the CPU's features.  -O3 -g0, never -ffast-math (it breaks NaN/inf
handling) and never -march=native (the build must run on other machines).
OpenMP is used when the compiler supports it; without it the kernels are serial.

By default only the variant this machine's CPU runs best is built, with GCC's parallel
link-time code generation, and each built extension is kept in a cache (~/.cache/fastact/build) keyed by a
hash of everything that goes into it, so reinstalling (another extra) does not recompile.
Environment:
  FASTACT_BUILD_VARIANTS=all          every variant (a wheel for other machines); =supported
                                      every variant this CPU runs; or a list (baseline,avx2)
  FASTACT_BUILD_JOBS=N                concurrent compilations (default: the usable cores)
  FASTACT_BUILD_CACHE=DIR | 0         the cache directory, or no cache
  FASTACT_OPENMP=0                    a serial build (for tests)
  FASTACT_LTO=0                       no link-time optimisation (one core per variant)
"""

import hashlib
import os
import platform
import runpy
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import warnings
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

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
    """Whether the C compiler builds and links a trivial OpenMP program with these flags
    (the OpenMP flag among them, or not: the program compiles either way)."""
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "probe.c"
        source.write_text("#ifdef _OPENMP\n#include <omp.h>\n#endif\nint main(void){\n#ifdef _OPENMP\n"
                          "return omp_get_max_threads() < 1;\n#endif\nreturn 0;}\n")
        try:
            result = subprocess.run(cc.split() + [str(source), "-o", str(Path(tmp) / "probe")]
                                    + flags, capture_output=True)
        except OSError:
            return False
        return result.returncode == 0


# variant -> (the CPU features it needs, its compiler flags); fastact/_cython/backend.py
# picks among the built ones at import with the same feature sets.
X86_VARIANTS = {
    "avx2": ({"avx2", "fma"}, ["-mavx2", "-mfma"]),
    # x86-64-v4: 16 floats a vector where the CPU has it (PyTorch uses it there too)
    "avx512": ({"avx512f", "avx512dq", "avx512bw", "avx512vl", "avx2", "fma"},
               ["-mavx512f", "-mavx512dq", "-mavx512bw", "-mavx512vl", "-mavx2", "-mfma",
                "-mprefer-vector-width=512"]),
}
# -g0 last: Python's CFLAGS carry -g, and debug info made each extension ~6.5 MB
RELEASE = ["-O3", "-g0"]


def variants():
    """{module: arch flags} to build.  By default the one variant this machine's CPU runs
    best (what fastact will load); FASTACT_BUILD_VARIANTS=supported for every variant the
    CPU can run (to test each), =all for a wheel meant for other machines, or a list such
    as baseline,avx2.  fastact loads the best variant built that the CPU supports."""
    every = {"_kernels_baseline": []}
    if X86:
        every.update({f"_kernels_{name}": flags for name, (_, flags) in X86_VARIANTS.items()})
    only = os.environ.get("FASTACT_BUILD_VARIANTS", "").strip()
    if only == "all":
        return every
    if only and only != "supported":
        wanted = {name.strip() for name in only.split(",")}
        unknown = wanted - {k.removeprefix("_kernels_") for k in every}
        if unknown:
            raise SystemExit(f"FASTACT_BUILD_VARIANTS: unknown variant(s) {sorted(unknown)}; "
                             "choose from all, supported, "
                             + ", ".join(k.removeprefix("_kernels_") for k in every))
        return {k: v for k, v in every.items() if k.removeprefix("_kernels_") in wanted}
    cpu = set(runpy.run_path(str(HERE / "fastact" / "_cpu.py"))["features"]())
    runs = ["_kernels_baseline"] + [f"_kernels_{name}" for name, (needs, _) in X86_VARIANTS.items()
                                    if needs <= cpu]
    if only != "supported":
        runs = runs[-1:]  # X86_VARIANTS is in increasing order: the last one is the best
    return {k: v for k, v in every.items() if k in runs}


def lto_flags(openmp):
    """Link-time optimisation with parallel code generation: GCC then compiles one
    extension on several cores (its code generation is 85% of a variant's build), so even
    a single variant uses the whole machine.  FASTACT_LTO=0 turns it off."""
    if os.environ.get("FASTACT_LTO", "").strip() == "0" or sys.platform in ("win32", "darwin"):
        return []
    flags = ["-flto=auto", "-flto-partition=balanced"]
    return flags if compiler_accepts(openmp + flags) else []


def toolchain_flags():
    """(compile flags, link flags) the compiler supports: OpenMP and LTO, probed once, at
    build time (not in the metadata steps pip runs first)."""
    openmp = ["-fopenmp"] if sys.platform != "win32" else ["/openmp"]
    if os.environ.get("FASTACT_OPENMP", "").strip() == "0":  # for testing a serial build
        openmp = []
    elif not compiler_accepts(openmp):
        warnings.warn("the C compiler has no OpenMP: fastact's Cython kernels will run serially")
        openmp = []
    if not openmp:
        print("fastact: building the Cython kernels without OpenMP (serial)", file=sys.stderr)
    lto = lto_flags(openmp)
    return openmp + lto, openmp + lto


def extensions():
    import numpy

    return [Extension(
        f"fastact._cython.{module}",
        [str(render_kernels(module).relative_to(HERE))],
        include_dirs=[numpy.get_include(), str(CYTHON_DIR)],
        extra_compile_args=[*RELEASE, *SAFE_MATH, *SIMD] + arch,  # + toolchain_flags()
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    ) for module, arch in variants().items()]


def cache_dir():
    """Where built extensions are kept for reuse (FASTACT_BUILD_CACHE: a directory, or 0)."""
    setting = os.environ.get("FASTACT_BUILD_CACHE", "").strip()
    if setting.lower() in ("0", "off", "no", "false"):
        return None
    if setting:
        return Path(setting).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fastact" / "build"


class BuildExt(build_ext):
    """build_ext that Cythonizes and compiles the variants concurrently (one job per usable
    core, FASTACT_BUILD_JOBS to change it) and reuses an extension built before from the
    same inputs: the cache key hashes the generated .pyx, the .pxd/.h files it includes,
    the compiler's commands, flags and version, and the Cython, NumPy and Python versions,
    so any change to one of them rebuilds."""

    CACHE_FORMAT = "1"
    KEEP = 16  # cached extensions kept, most recently used first

    def finalize_options(self):
        super().finalize_options()
        if not self.parallel:
            jobs = os.environ.get("FASTACT_BUILD_JOBS", "").strip()
            try:
                cores = len(os.sched_getaffinity(0))
            except AttributeError:
                cores = os.cpu_count() or 1
            self.parallel = int(jobs) if jobs else cores
        self.cache = cache_dir()

    def build_extensions(self):
        compile_flags, link_flags = toolchain_flags()
        for ext in self.extensions:
            ext.extra_compile_args = ext.extra_compile_args + compile_flags
            # with LTO the code is generated at link time: the link takes the same flags
            lto = any(flag.startswith("-flto") for flag in link_flags)
            ext.extra_link_args = ext.extra_link_args + (ext.extra_compile_args if lto
                                                         else link_flags)
        super().build_extensions()

    def _compiler_version(self):
        command = self.compiler.compiler_so if hasattr(self.compiler, "compiler_so") else ["cc"]
        try:
            result = subprocess.run([command[0], "--version"], capture_output=True, text=True)
            return result.stdout + result.stderr
        except OSError:
            return ""

    def cache_key(self, ext, pyx):
        import Cython
        import numpy

        digest = hashlib.sha256()
        parts = [self.CACHE_FORMAT, ext.name, sys.version, sysconfig.get_config_var("EXT_SUFFIX"),
                 platform.machine(), Cython.__version__, numpy.__version__,
                 self._compiler_version(), repr(getattr(self.compiler, "compiler_so", None)),
                 repr(getattr(self.compiler, "linker_so", None)), repr(ext.extra_compile_args),
                 repr(ext.extra_link_args), repr(ext.define_macros), repr(ext.libraries)]
        for part in parts:
            digest.update(str(part).encode() + b"\0")
        for path in [pyx] + sorted(CYTHON_DIR.glob("*.pxd")) + sorted(CYTHON_DIR.glob("*.h")):
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        return digest.hexdigest()[:32]

    def build_extension(self, ext):
        target = Path(self.get_ext_fullpath(ext.name))
        pyx = Path(ext.sources[0])
        pyx = pyx if pyx.is_absolute() else HERE / pyx
        key = self.cache_key(ext, pyx)
        cached = self.cache / key / target.name if self.cache else None
        if cached is not None and cached.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(cached, target)
            os.utime(cached.parent)
            print(f"fastact: {ext.name} from the build cache ({cached.parent})", file=sys.stderr)
            return
        c_file = pyx.with_suffix(".c")
        # A separate process, so that the variants Cythonize in parallel (not under one GIL)
        subprocess.run([sys.executable, "-m", "cython", "-3", "-I", str(HERE), str(pyx),
                        "-o", str(c_file)], check=True, cwd=HERE)
        ext.sources = [str(c_file.relative_to(HERE))]  # setuptools wants relative paths
        self.force = True  # the .c was just written: compile it, whatever the timestamps
        super().build_extension(ext)
        if cached is not None:
            self._store(target, cached)

    def _store(self, built, cached):
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            partial = cached.with_name(f".{cached.name}.{os.getpid()}.tmp")
            shutil.copyfile(built, partial)
            os.replace(partial, cached)
            entries = sorted((p for p in cached.parent.parent.iterdir() if p.is_dir()),
                             key=lambda p: p.stat().st_mtime, reverse=True)
            for old in entries[self.KEEP:]:
                shutil.rmtree(old, ignore_errors=True)
        except OSError as error:  # a read-only or full cache: the build itself succeeded
            print(f"fastact: could not store {built.name} in the build cache: {error}",
                  file=sys.stderr)


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
