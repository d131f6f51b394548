"""What machine a measurement ran on: CPU, cores, threads, device, OS and library versions.

Speeds are only comparable on the same hardware, so every benchmark records this next to its
figures. Importing this module is cheap: torch is imported only when :func:`machine_info` is
asked for torch's thread count, and versions are read from package metadata, not by importing.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys

#: Distributions whose versions are recorded (missing ones are recorded as None).
PACKAGES: tuple[str, ...] = ("torch", "sentence-transformers", "transformers", "onnxruntime", "numpy")


def cpu_model() -> str:
    """The CPU's marketing name (e.g. "AMD EPYC 9R14"), or the best the OS will say."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Hardware", "cpu model") and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def package_version(distribution: str) -> str | None:
    """The installed version of ``distribution``, or None when it is not installed."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity; a container may allow fewer than exist)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def machine_info(*, torch_threads: bool = True) -> dict:
    """Describe this machine and software stack, for recording next to measurements.

    Parameters
    ----------
    torch_threads : bool, default True
        Import torch (about a second the first time) to record how many threads it computes
        with. False leaves ``torch_threads`` as None unless torch is already imported.

    Returns
    -------
    dict
        ``cpu_model``, ``cpu_cores`` (physical), ``cpu_threads`` (logical), ``usable_cores``,
        ``torch_threads``, ``device`` (where embedlab runs models: always ``"cpu"``),
        ``memory_bytes``, ``load_average`` (1-minute, at the time of the call: high means
        other work shared the CPU), ``os``, ``python``, ``embedlab`` and one entry per
        package in :data:`PACKAGES` (its version or None).

    Examples
    --------
    >>> info = machine_info(torch_threads=False)
    >>> info["device"]
    'cpu'
    """
    import psutil

    threads = None
    if torch_threads or "torch" in sys.modules:
        try:
            import torch  # imported here, not at module level: it costs about a second

            threads = int(torch.get_num_threads())
        except ImportError:
            threads = None
    try:
        load = round(float(os.getloadavg()[0]), 2)
    except (AttributeError, OSError):
        load = None
    from .. import __version__

    info = {
        "cpu_model": cpu_model(),
        "cpu_cores": psutil.cpu_count(logical=False),
        "cpu_threads": psutil.cpu_count(logical=True),
        "usable_cores": usable_cores(),
        "torch_threads": threads,
        "device": "cpu",
        "memory_bytes": int(psutil.virtual_memory().total),
        "load_average": load,
        "os": platform.platform(),
        "python": platform.python_version(),
        "embedlab": __version__,
    }
    for distribution in PACKAGES:
        info[distribution] = package_version(distribution)
    return info


def describe(info: dict) -> str:
    """One line for people: CPU, cores, threads, device, OS and the main versions.

    >>> describe({"cpu_model": "AMD EPYC", "usable_cores": 2, "torch_threads": 2, "device": "cpu"})
    'AMD EPYC · 2 cores · torch 2 threads · cpu'
    """
    parts = [str(info.get("cpu_model") or "unknown CPU")]
    if info.get("usable_cores"):
        parts.append(f"{info['usable_cores']} cores")
    if info.get("torch_threads"):
        parts.append(f"torch {info['torch_threads']} threads")
    parts.append(str(info.get("device") or "cpu"))
    if info.get("memory_bytes"):
        parts.append(f"{info['memory_bytes'] / 2**30:.0f} GiB RAM")
    if info.get("os"):
        parts.append(str(info["os"]))
    if info.get("python"):
        parts.append(f"Python {info['python']}")
    for distribution in ("torch", "sentence-transformers"):
        if info.get(distribution):
            parts.append(f"{distribution} {info[distribution]}")
    return " · ".join(parts)
