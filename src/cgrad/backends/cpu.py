"""cgrad.backends.cpu: the CPU's vector instructions, as PyTorch names its kernel levels."""
import functools


@functools.lru_cache(maxsize=None)
def get_cpu_capability():
    """"AVX512", "AVX2" or "DEFAULT": the widest vector level this CPU has, from /proc/cpuinfo's flags."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        flags = []
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= set(flags):
        return "AVX512"
    if {"avx2", "fma"} <= set(flags):
        return "AVX2"
    return "DEFAULT"
