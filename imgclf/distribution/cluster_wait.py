"""A bound on forming a TF_CONFIG cluster. MultiWorkerMirroredStrategy waits for every worker without a timeout,
holding Python's lock (no thread of this process runs meanwhile) and, from its start, swallowing SIGTERM; a worker
that is never started, or a wrong address, left the others waiting silently for good. A watchdog process names the
workers that do not answer after `train.cluster_wait_s` and ends the waiting one."""

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

WATCHDOG = r"""
import os, select, signal, socket, sys
parent, wait_s, peers = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3:]
if select.select([sys.stdin], [], [], wait_s)[0]:
    sys.exit(0)  # the pipe closed: the cluster formed, or the worker ended
def answers(address):
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
        return True
    except (OSError, ValueError):
        return False
silent = [name for name, address in (p.split("=", 1) for p in peers) if not answers(address)]
who = ", ".join(silent) or "the other workers (they answer, but the cluster did not form: do they run this TF_CONFIG?)"
sys.stderr.write(
    f"error: TF_CONFIG: {who} did not join within {wait_s:g} s (train.cluster_wait_s); start every worker of the "
    "cluster, or correct its address\n"
)
sys.stderr.flush()
os.kill(parent, signal.SIGKILL)
"""


def peers(config: dict) -> list[str]:
    """'worker 1=host:port' for every task of the cluster but this one."""
    task = config.get("task", {})
    me = (task.get("type"), task.get("index", 0))
    return [
        f"{kind} {index} ({address})={address}"
        for kind, addresses in config.get("cluster", {}).items()
        for index, address in enumerate(addresses)
        if (kind, index) != me
    ]


@contextmanager
def bounded_cluster_wait(config: dict, wait_s: float) -> Iterator[None]:
    """Around the strategy's construction: after `wait_s` seconds, the watchdog names the silent workers and kills
    this process. SIGTERM stops training again once the cluster has formed."""
    watchdog = subprocess.Popen(
        [sys.executable, "-c", WATCHDOG, str(os.getpid()), str(wait_s), *peers(config)], stdin=subprocess.PIPE
    )
    try:
        yield
    finally:
        watchdog.stdin.close()
        watchdog.wait()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # TensorFlow's preemption notifier had taken it
