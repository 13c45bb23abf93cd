"""How many cores this process may use — light enough for every stage (no backend import)."""

import os

__all__ = ["available_cpus"]


def available_cpus() -> int:
    """The cores this process may run on (its CPU affinity where the OS has one, else ``os.cpu_count()``).

    ``os.cpu_count()`` counts the machine's cores, which in a container or
    under ``taskset`` can be many more than the process is allowed: worker
    pools sized by it would oversubscribe the allowed ones.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
