"""A real single-node SLURM cluster on this machine, for the tests (Debian's slurm-wlm and munge).

The cluster's config goes to /etc/slurm (jobs cannot be pointed elsewhere: the Snakemake plugin
drops every SLURM_* variable, SLURM_CONF included, inside a job), and only where no other SLURM
config is there; state, spool and logs live in a scratch folder. One node at 127.0.0.1 with the
machine's CPUs and a fake GPU (a gres backed by /dev/null), no accounting. Every daemon started
here is stopped by its PID afterwards, and the config files are removed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

PACKAGES = ("slurm-wlm", "munge")
CONF_DIR = Path("/etc/slurm")
MARKER = "# written by the synthpet tests (tests/slurm_cluster.py); removed when they end"


class Unavailable(Exception):
    """SLURM cannot be installed or configured on this machine (the reason is the message): skip.

    A cluster that is installed but fails to start is a failure, not a skip (RuntimeError).
    """


def install() -> None:
    if shutil.which("slurmctld") and shutil.which("munged", path="/usr/sbin:" + os.environ.get("PATH", "")):
        return
    if os.geteuid() != 0:
        raise Unavailable("SLURM is not installed and installing it needs root")
    if not shutil.which("apt-get"):
        raise Unavailable("SLURM is not installed and this machine has no apt-get to install it")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES],
    ):
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
        if done.returncode != 0:
            raise Unavailable(f"{' '.join(command)} failed: {done.stderr[-500:]}")


def _memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    raise Unavailable("cannot read the machine's memory from /proc/meminfo")


def write_config(folder: Path, host: str, cpus: int, memory_mb: int) -> Path:
    conf = CONF_DIR / "slurm.conf"
    if conf.exists() and MARKER not in conf.read_text():
        raise Unavailable(f"{conf} exists: this machine has its own SLURM, which the tests leave alone")
    for sub in ("state", "spool", "log"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    CONF_DIR.mkdir(parents=True, exist_ok=True)
    conf.write_text(
        "\n".join(
            [
                MARKER,
                "ClusterName=synthpet-test",
                f"SlurmctldHost={host}(127.0.0.1)",
                "SlurmUser=root",
                "SlurmdUser=root",
                "AuthType=auth/munge",
                "ProctrackType=proctrack/linuxproc",
                "TaskPlugin=task/none",
                "MpiDefault=none",
                "AccountingStorageType=accounting_storage/none",
                "JobAcctGatherType=jobacct_gather/none",
                "SelectType=select/cons_tres",
                "SelectTypeParameters=CR_Core_Memory",
                "ReturnToService=2",
                "MinJobAge=300",
                "GresTypes=gpu",
                f"StateSaveLocation={folder / 'state'}",
                f"SlurmdSpoolDir={folder / 'spool'}",
                f"SlurmctldPidFile={folder / 'slurmctld.pid'}",
                f"SlurmdPidFile={folder / 'slurmd.pid'}",
                f"SlurmctldLogFile={folder / 'log' / 'slurmctld.log'}",
                f"SlurmdLogFile={folder / 'log' / 'slurmd.log'}",
                "SlurmctldPort=16817",
                "SlurmdPort=16818",
                f"NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} Gres=gpu:1 State=UNKNOWN",
                f"PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP",
                "",
            ]
        )
    )
    (CONF_DIR / "gres.conf").write_text(f"{MARKER}\nNodeName={host} Name=gpu File=/dev/null\n")
    return conf


def _read_pid(path: Path, wait_s: float = 30.0) -> int:
    """The PID a daemon wrote (daemons write it just after forking, so wait a moment for it)."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text().split()[0])
        time.sleep(0.1)
    raise RuntimeError(f"no PID file {path} after {wait_s:.0f} s (see the daemon's log beside it)")


class Cluster:
    """Start with ``start()``, stop with ``stop()``; ``env`` is the environment for clients."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.pids: list[int] = []  # read when each daemon starts: a PID file may later be another's
        self.env: dict[str, str] = {}

    def _munge(self) -> None:
        if subprocess.run(["munge", "-n"], capture_output=True).returncode == 0:
            return  # a munged is already running: use it, leave it alone
        run_dir = Path("/run/munge")
        run_dir.mkdir(parents=True, exist_ok=True)
        shutil.chown(run_dir, "munge", "munge")
        pid_file = run_dir / "munged.pid"
        done = subprocess.run(
            ["runuser", "-u", "munge", "--", "/usr/sbin/munged", "--force"],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"munged did not start: {done.stderr[-300:]}")
        self.pids.append(_read_pid(pid_file))

    def start(self) -> Cluster:
        host = socket.gethostname().split(".")[0]
        conf = write_config(self.folder, host, os.cpu_count() or 1, int(_memory_mb() * 0.85))
        self.env = {**os.environ, "SLURM_CONF": str(conf)}
        self._munge()
        for daemon in ("slurmctld", "slurmd"):
            done = subprocess.run(
                [f"/usr/sbin/{daemon}", "-f", str(conf)], capture_output=True, text=True, env=self.env
            )
            if done.returncode != 0:
                self.stop()
                raise RuntimeError(f"{daemon} did not start: {done.stderr[-300:]}")
            try:
                self.pids.append(_read_pid(self.folder / f"{daemon}.pid"))
            except RuntimeError:
                self.stop()
                raise
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            state = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, env=self.env)
            if state.stdout.strip() == "idle":
                return self
            time.sleep(1)
        log = (self.folder / "log" / "slurmctld.log").read_text()[-1000:]
        self.stop()
        raise RuntimeError(f"the SLURM node did not become idle in 90 s; slurmctld log:\n{log}")

    def stop(self) -> None:
        """Stop every daemon this cluster started, by the PID it wrote, and wait for it to exit."""
        for pid in reversed(self.pids):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            for _ in range(100):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
        self.pids.clear()
        for name in ("slurm.conf", "gres.conf"):
            path = CONF_DIR / name
            if path.exists() and MARKER in path.read_text():
                path.unlink()
