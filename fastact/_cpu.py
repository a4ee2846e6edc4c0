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
            found = model_from_cpuinfo(f)
        if found:
            return found
    except OSError:
        pass
    return platform.processor() or platform.machine()


def model_from_cpuinfo(lines) -> str | None:
    """The first CPU's model name in /proc/cpuinfo's ``lines``, with its family, model and
    stepping numbers where given: a virtual machine's name is often only "Intel(R) Xeon(R)
    Processor", and the numbers tell the microarchitecture (family 6, model 207: Emerald
    Rapids).  None without a model name."""
    fields = {}
    for line in lines:
        if not line.strip():
            break  # the end of the first processor's block
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    name = fields.get("model name")
    if not name:
        return None
    numbers = [(label, fields.get(key)) for label, key in
               (("family", "cpu family"), ("model", "model"), ("stepping", "stepping"))]
    numbers = [f"{label} {value}" for label, value in numbers if value]
    return f"{name} ({', '.join(numbers)})" if numbers else name
