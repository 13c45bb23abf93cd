"""Worker pools are sized by the cores this process may use, not by the machine's count."""

import os
import subprocess
import sys

import pytest


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or (os.cpu_count() or 1) < 2,
                    reason="needs CPU affinity and two cores")
def test_available_cpus_follows_the_affinity_not_the_machine():
    code = ("import os, sys; from skysieve._cpus import available_cpus; "
            "print(available_cpus(), os.cpu_count(), 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True,
                         preexec_fn=lambda: os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}))
    allowed, machine, backend = out.stdout.split()
    assert allowed == "1" and int(machine) >= 2  # taskset-like: one core allowed of several
    assert backend == "False"  # light enough for the simulate stages
    from skysieve._cpus import available_cpus

    assert available_cpus() == len(os.sched_getaffinity(0))
