"""The CPU's SIMD features (for `fastact info` and for picking a compiled variant)."""

from __future__ import annotations

import functools

# Features that decide which kernels can run fast, in the order worth showing.
FEATURES = ("sse2", "sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512dq", "avx512bw",
            "avx512vl", "neon", "asimd")


@functools.cache
def features() -> tuple[str, ...]:
    """The SIMD features this CPU reports (Linux /proc/cpuinfo; empty elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    flags = set(line.split(":", 1)[1].split())
                    return tuple(feature for feature in FEATURES if feature in flags)
    except OSError:
        pass
    return ()


@functools.cache
def model() -> str:
    """The CPU's model name, as saved benchmark results name it (Linux /proc/cpuinfo;
    elsewhere Python's platform.processor(), or the architecture)."""
    import platform

    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
