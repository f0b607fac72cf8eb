"""A real single-node Slurm for the tests: munge, slurmctld, slurmd and, for accounting, MariaDB and slurmdbd.

Debian's packages (``slurm-wlm``, ``munge``; ``slurmdbd`` and ``mariadb-server`` for accounting)
started as root on this machine, on ports of their own (16817–16819) and with every file under
one folder, so a Slurm already running here is never touched.  ``make test`` installs the
packages where it can (root and Debian's package registry; see ``tests/install_slurm.sh``).

The configuration is what a working set-up needed:

* the node line that ``slurmd -C`` prints, one partition;
* ``ProctrackType=proctrack/linuxproc``, ``TaskPlugin=task/none`` (no cgroups in a container);
* ``SelectType=select/cons_tres`` with ``CR_Core_Memory``, so memory is a resource;
* ``JobAcctGatherType=jobacct_gather/linux`` with ``OverMemoryKill``, sampled every second,
  so a task over its memory is killed (Slurm then says ``OUT_OF_MEMORY``);
* a short ``KillWait``, so a cancelled task really ends;
* with accounting: ``slurmdbd`` over a local MariaDB and ``sacctmgr -i add cluster``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

CLUSTER = "benchtest"
PARTITION = "bench"
PORTS = {"slurmctld": 16817, "slurmd": 16818, "slurmdbd": 16819}
COMMANDS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo")
ACCOUNTING_COMMANDS = ("slurmdbd", "sacct", "sacctmgr", "mariadbd", "mysql")
STARTUP_SECONDS = 60
REGISTRY = Path("/tmp/bench-test-slurm.pids")
"""The test daemons' process ids and command lines: a cluster whose test run was killed (so its
stop never ran) is stopped by the next start, and nothing else is."""


class SlurmUnavailableError(RuntimeError):
    """What is missing to start the test cluster, in one sentence."""


def missing(accounting: bool) -> list[str]:
    """The commands of the cluster that this machine lacks."""
    names = (*COMMANDS, *(ACCOUNTING_COMMANDS if accounting else ()))
    return [name for name in names if shutil.which(name) is None and not Path("/usr/sbin", name).exists()]


def _which(name: str) -> str:
    found = shutil.which(name) or str(Path("/usr/sbin", name))
    return found


def _node_line() -> str:
    """``slurmd -C``'s node line without its ``UpTime`` (what this machine has)."""
    text = subprocess.run([_which("slurmd"), "-C"], capture_output=True, text=True, check=True).stdout
    line = next(li for li in text.splitlines() if li.startswith("NodeName="))
    return " ".join(part for part in line.split() if not part.startswith("UpTime"))


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


class SlurmCluster:
    """A single-node Slurm whose files all live under ``folder``; :meth:`start`, then :meth:`stop`.

    Attributes:
        folder: configuration, state, spool and logs.
        accounting: run slurmdbd over MariaDB (``sacct`` works) or not (it fails, as on a
            cluster without accounting).
        min_job_age: seconds ``squeue`` still lists an ended task (Slurm's ``MinJobAge``; 2 makes
            the harness learn how a task ended from ``sacct`` or from its log).
        conf: the ``slurm.conf``; its path is the ``SLURM_CONF`` that every Slurm command and
            every task must see (:meth:`environment`).
    """

    def __init__(self, folder: Path, accounting: bool, min_job_age: int = 300) -> None:
        self.folder = Path(folder)
        self.accounting = accounting
        self.min_job_age = min_job_age
        self.conf = self.folder / "slurm.conf"
        self._daemons: dict[str, subprocess.Popen] = {}

    # ------------------------------------------------------------------ set-up
    def environment(self) -> dict[str, str]:
        """Environment variables that point Slurm's commands at this cluster."""
        return {"SLURM_CONF": str(self.conf)}

    def _write_configuration(self) -> None:
        for name in ("state", "spool", "logs"):
            (self.folder / name).mkdir(parents=True, exist_ok=True)
        host = socket.gethostname().split(".")[0]
        accounting = (
            [
                "AccountingStorageType=accounting_storage/slurmdbd",
                "AccountingStorageHost=localhost",
                f"AccountingStoragePort={PORTS['slurmdbd']}",
            ]
            if self.accounting
            else ["AccountingStorageType=accounting_storage/none"]
        )
        lines = [
            f"ClusterName={CLUSTER}",
            f"SlurmctldHost={host}",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            f"SlurmctldPort={PORTS['slurmctld']}",
            f"SlurmdPort={PORTS['slurmd']}",
            f"StateSaveLocation={self.folder / 'state'}",
            f"SlurmdSpoolDir={self.folder / 'spool'}",
            f"SlurmctldPidFile={self.folder / 'slurmctld.pid'}",
            f"SlurmdPidFile={self.folder / 'slurmd.pid'}",
            f"SlurmctldLogFile={self.folder / 'logs' / 'slurmctld.log'}",
            f"SlurmdLogFile={self.folder / 'logs' / 'slurmd.log'}",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core_Memory",
            "DefMemPerCPU=2048",
            "JobAcctGatherType=jobacct_gather/linux",
            "JobAcctGatherFrequency=1",
            "JobAcctGatherParams=OverMemoryKill",
            "KillWait=2",
            f"MinJobAge={self.min_job_age}",  # how long squeue still lists an ended task
            "ReturnToService=2",
            "SchedulerType=sched/backfill",
            "MpiDefault=none",
            "SlurmctldTimeout=30",
            "SlurmdTimeout=30",
            *accounting,
            "JobCompType=jobcomp/none",
            _node_line(),
            f"PartitionName={PARTITION} Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
        ]
        self.conf.write_text("\n".join(lines) + "\n")

    def _start(self, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
        log = open(self.folder / "logs" / f"{name}.out", "ab")  # noqa: SIM115 (the daemon keeps it)
        self._daemons[name] = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, start_new_session=True
        )
        with REGISTRY.open("a") as registry:
            registry.write(f"{self._daemons[name].pid} {' '.join(command)}\n")

    def _wait(self, what: str, ready) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if ready():
                return
            for name, process in self._daemons.items():
                if process.poll() is not None:
                    raise SlurmUnavailableError(
                        f"{name} exited with status {process.returncode}; see {self.folder / 'logs'}."
                    )
            time.sleep(0.3)
        raise SlurmUnavailableError(f"{what} was not ready after {STARTUP_SECONDS} s; see {self.folder / 'logs'}.")

    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            list(command), capture_output=True, text=True, env={**os.environ, **self.environment()}, check=check
        )

    def _start_munge(self) -> None:
        if subprocess.run(["munge", "-n"], capture_output=True).returncode == 0:
            return  # a munged already answers
        key = Path("/etc/munge/munge.key")
        if not key.exists():
            subprocess.run(["mungekey", "--create", "--keyfile", str(key)], check=True, capture_output=True)
            shutil.chown(key, "munge", "munge")
            key.chmod(0o600)
        run_dir = Path("/run/munge")
        run_dir.mkdir(parents=True, exist_ok=True)
        shutil.chown(run_dir, "munge", "munge")
        subprocess.run(["runuser", "-u", "munge", "--", _which("munged")], check=True, capture_output=True)
        deadline = time.monotonic() + STARTUP_SECONDS
        while subprocess.run(["munge", "-n"], capture_output=True).returncode != 0:
            if time.monotonic() > deadline:
                raise SlurmUnavailableError("munged did not answer after 60 s.")
            time.sleep(0.2)

    def _start_database(self) -> None:
        run_dir = Path("/run/mysqld")
        run_dir.mkdir(parents=True, exist_ok=True)
        shutil.chown(run_dir, "mysql", "mysql")
        socket_path = run_dir / "mysqld.sock"
        if subprocess.run(["mysql", "-e", "select 1"], capture_output=True).returncode != 0:
            self._start("mariadbd", [_which("mariadbd"), "--user=mysql", f"--socket={socket_path}"])
            self._wait(
                "MariaDB", lambda: subprocess.run(["mysql", "-e", "select 1"], capture_output=True).returncode == 0
            )
        dbd = self.folder / "slurmdbd.conf"
        dbd.write_text(
            "\n".join(
                [
                    "AuthType=auth/munge",
                    "DbdHost=localhost",
                    f"DbdPort={PORTS['slurmdbd']}",
                    "SlurmUser=root",
                    f"PidFile={self.folder / 'slurmdbd.pid'}",
                    f"LogFile={self.folder / 'logs' / 'slurmdbd.log'}",
                    "StorageType=accounting_storage/mysql",
                    "StorageHost=localhost",
                    f"StorageLoc=slurm_acct_{CLUSTER}",
                    "StorageUser=root",  # MariaDB's root logs in by its Unix socket, as the root user it is
                ]
            )
            + "\n"
        )
        dbd.chmod(0o600)
        self._start("slurmdbd", [_which("slurmdbd"), "-D"], env={"SLURM_CONF": str(self.conf)})
        self._wait("slurmdbd", lambda: not _port_free(PORTS["slurmdbd"]))
        self._run("sacctmgr", "-i", "add", "cluster", CLUSTER, check=False)

    def start(self) -> SlurmCluster:
        """Start every daemon and wait until the node takes jobs.

        Raises:
            SlurmUnavailableError: a command is missing, a port is taken, or a daemon did not start.
        """
        absent = missing(self.accounting)
        if absent:
            raise SlurmUnavailableError(
                f"the real-Slurm tests need {', '.join(absent)}; install Debian's slurm-wlm, munge"
                f"{', slurmdbd and mariadb-server' if self.accounting else ''} (tests/install_slurm.sh does, as root)."
            )
        if os.geteuid() != 0:
            raise SlurmUnavailableError("the real-Slurm tests start Slurm's daemons and must run as root.")
        _stop_stale_daemons()
        for name, port in PORTS.items():
            if not _port_free(port):
                raise SlurmUnavailableError(f"port {port} for the test {name} is taken; stop what listens there.")
        if self.folder.exists():
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True)
        try:
            self._write_configuration()
            self._start_munge()
            if self.accounting:
                self._start_database()
            env = self.environment()
            self._start("slurmctld", [_which("slurmctld"), "-D", "-c", "-f", str(self.conf)], env=env)
            self._wait("slurmctld", lambda: self._run("sinfo", check=False).returncode == 0)
            self._start("slurmd", [_which("slurmd"), "-D", "-f", str(self.conf)], env=env)
            self._wait("the node", self._node_idle)
        except BaseException:
            self.stop()
            raise
        return self

    def _node_idle(self) -> bool:
        done = self._run("sinfo", "-h", "-o", "%t", check=False)
        return done.returncode == 0 and done.stdout.strip().startswith("idle")

    # ------------------------------------------------------------------ use
    def queue(self) -> list[str]:
        """Job ids in the queue (``squeue``), array tasks as ``<job>_<task>``."""
        done = self._run("squeue", "-h", "-o", "%i", check=False)
        return done.stdout.split()

    def cancel_all(self) -> None:
        """``scancel`` every job, then wait until the queue is empty (at most 60 s)."""
        self._run("scancel", "-u", "root", check=False)
        deadline = time.monotonic() + STARTUP_SECONDS
        while self.queue() and time.monotonic() < deadline:
            time.sleep(0.5)

    def stop(self) -> None:
        """Cancel every job and stop the daemons this cluster started (MariaDB included); munged is left running."""
        if "slurmctld" in self._daemons:
            self.cancel_all()
        for name in ("slurmd", "slurmctld", "slurmdbd", "mariadbd"):
            process = self._daemons.pop(name, None)
            if process is None:
                continue
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        REGISTRY.unlink(missing_ok=True)


def _stop_stale_daemons() -> None:
    """Stop the daemons a killed test run left (those in :data:`REGISTRY` whose command line still matches)."""
    try:
        entries = [line.split(" ", 1) for line in REGISTRY.read_text().splitlines() if " " in line]
    except OSError:
        return
    for pid_text, command in entries:
        try:
            running = Path(f"/proc/{int(pid_text)}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except (OSError, ValueError):
            continue
        if running == command.strip():
            with contextlib.suppress(OSError):
                os.killpg(int(pid_text), signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(not _port_free(port) for port in PORTS.values()) and time.monotonic() < deadline:
        time.sleep(0.2)
    REGISTRY.unlink(missing_ok=True)
