"""A real, throw-away, single-node SLURM cluster for tests (pytest fixture).

Not collected by pytest (no ``test_`` prefix) and not a conftest.py: test
modules import it explicitly, so it cannot clash with other tests' conftests::

    from slurm_cluster import slurm_cluster  # noqa: F401  (fixture)

What the fixture does
---------------------
1. Ensures ``slurmctld``/``slurmd``/``munged``/``sbatch`` exist; if not and we
   are root with apt-get, runs ``apt-get install -y slurm-wlm munge``.  If that
   is impossible the fixture ``pytest.skip``s with the reason.
2. Creates everything under one temp dir: a munge key + private munge socket,
   ``slurm.conf`` (own ports, own state/spool/log dirs), and exports
   ``SLURM_CONF`` so every client command (sbatch, squeue, the Snakemake SLURM
   plugin, the jobs themselves) talks to *this* cluster only.
3. Starts ``munged -F``, ``slurmctld -D`` and ``slurmd -D`` as direct child
   processes (no systemd; works in containers), waits until ``sinfo`` reports
   the node idle.
4. Teardown: ``scancel`` all jobs of this private cluster, waits for them to
   leave, then terminates exactly the three Popen children it started
   (SIGTERM, then SIGKILL after a grace period).  Nothing is killed by name.

Container-safe settings: ``ProctrackType=proctrack/linuxproc``,
``TaskPlugin=task/none``, ``JobAcctGatherType=jobacct_gather/none`` and no
cgroup.conf (cgroup plugins fail without a writable cgroup hierarchy).  There
is no slurmdbd, so ``sacct``/``sacctmgr`` do not work here: Snakemake must use
``--slurm-status-command squeue`` (we set ``MinJobAge=600`` so squeue keeps
finished jobs) and must not be given a ``slurm_account`` (the plugin validates
accounts with sacctmgr/sshare).

GPUs: the machine has none, so the node gets *fake* GPU GRES
(``GresTypes=gpu``, ``Gres=gpu:fakegpu:2``, gres.conf ``File=`` pointing at
char-device clones of /dev/null, ``AutoDetect=off``).  SLURM then schedules
``--gpus=fakegpu:1`` for real and sets CUDA_VISIBLE_DEVICES/SLURM_STEP_GPUS,
so GPU rules keep their real resources (``gpu=1``...) in tests; CUDA itself
is unusable, so workloads must run on the CPU.

Two partitions, both on the single node: ``cpu`` (default) and ``gpu``.

An ``srun`` shim in ``<root>/bin`` (prepended to PATH) re-exports SLURM_CONF,
which snakemake-executor-plugin-slurm-jobstep 0.6.x strips before its srun.
"""
from __future__ import annotations

import atexit
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REQUIRED_BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "srun", "sinfo", "squeue", "scancel")
SBIN_DIRS = ("/usr/sbin", "/usr/local/sbin", "/sbin")


def _which(name: str) -> str | None:
    path = os.environ.get("PATH", "") + os.pathsep + os.pathsep.join(SBIN_DIRS)
    return shutil.which(name, path=path)


def _missing_binaries() -> list[str]:
    return [b for b in REQUIRED_BINARIES if _which(b) is None]


def ensure_slurm_installed() -> None:
    """Install slurm-wlm + munge via apt if missing; pytest.skip if impossible."""
    missing = _missing_binaries()
    if not missing:
        return
    reason = f"SLURM/munge binaries missing: {missing}"
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip(f"{reason}; cannot install (need root + apt-get)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        subprocess.run(["apt-get", "update"], env=env, check=False,
                       capture_output=True, timeout=300)
        res = subprocess.run(["apt-get", "install", "-y", "slurm-wlm", "munge"],
                             env=env, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as e:
        pytest.skip(f"{reason}; apt-get install failed: {e}")
    if res.returncode != 0 or _missing_binaries():
        pytest.skip(f"{reason}; apt-get install slurm-wlm munge failed: "
                    f"{res.stderr[-500:]}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _node_hardware() -> tuple[str, int, int]:
    """(node line from `slurmd -C` without RealMemory, cpus, real_memory_mb)."""
    out = subprocess.run([_which("slurmd"), "-C"], capture_output=True, text=True,
                         timeout=30).stdout
    line = next((ln for ln in out.splitlines() if ln.startswith("NodeName=")), "")
    cpus = int(re.search(r"\bCPUs=(\d+)", line).group(1)) if line else (os.cpu_count() or 1)
    mem = int(re.search(r"RealMemory=(\d+)", line).group(1)) if line else 4096
    # keep the detected topology (Sockets/Cores/Threads) so CR_Core accounting
    # matches the hardware; drop NodeName/RealMemory, we set those ourselves.
    topo = " ".join(tok for tok in line.split()
                    if not tok.startswith(("NodeName=", "RealMemory=")))
    return topo or f"CPUs={cpus}", cpus, mem


@dataclass
class SlurmCluster:
    root: Path
    conf: Path
    nodename: str
    cpus: int
    mem_mb: int
    partition: str = "cpu"
    gpu_partition: str = "gpu"
    gpus: int = 0
    gpu_model: str = ""
    procs: dict = field(default_factory=dict)

    @property
    def env(self) -> dict:
        """Environment for client commands / Snakemake: points at this cluster."""
        env = dict(os.environ)
        env["SLURM_CONF"] = str(self.conf)
        env["PATH"] = os.pathsep.join(
            [str(self.root / "bin"), env.get("PATH", ""), *SBIN_DIRS])
        for k in list(env):  # never inherit an outer allocation
            if k.startswith(("SLURM_JOB", "SLURM_STEP", "SBATCH_", "SRUN_")):
                env.pop(k)
        return env

    def run(self, *args: str, check: bool = True, timeout: float = 60,
            **kw) -> subprocess.CompletedProcess:
        return subprocess.run(list(args), env=self.env, capture_output=True, text=True,
                              check=check, timeout=timeout, **kw)

    def log(self, name: str) -> str:
        p = self.root / "log" / f"{name}.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def node_state(self) -> str:
        res = self.run("sinfo", "-h", "-N", "-n", self.nodename, "-o", "%T", check=False)
        return res.stdout.strip().splitlines()[0] if res.stdout.strip() else ""

    def wait_job(self, jobid: str, timeout: float = 120) -> str:
        """Wait until the job leaves PENDING/RUNNING; returns final squeue state."""
        deadline = time.time() + timeout
        state = ""
        while time.time() < deadline:
            res = self.run("squeue", "-h", "-t", "all", "-j", jobid, "-o", "%T", check=False)
            state = res.stdout.strip()
            if state and state not in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING"):
                return state
            time.sleep(0.5)
        raise TimeoutError(f"job {jobid} still {state!r} after {timeout}s")

    def jobs(self) -> list[dict]:
        """All jobs slurmctld still remembers (MinJobAge=600): id, name, state, partition, comment."""
        fmt = "%i|%j|%T|%P|%k"
        res = self.run("squeue", "-h", "-t", "all", "-o", fmt, check=False)
        out = []
        for ln in res.stdout.splitlines():
            jid, name, state, part, comment = (ln.split("|") + [""] * 5)[:5]
            out.append(dict(id=jid, name=name, state=state, partition=part, comment=comment))
        return out

    # ------------------------------------------------------------------ daemons
    def _start(self, name: str, argv: list[str]) -> None:
        logf = open(self.root / "log" / f"{name}.stdout", "wb")
        self.procs[name] = subprocess.Popen(
            argv, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=self.env, start_new_session=True)
        logf.close()

    def _check_alive(self, what: str) -> None:
        for name, p in self.procs.items():
            if p.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {p.returncode} while {what}.\n"
                    f"--- {name}.stdout ---\n"
                    f"{(self.root / 'log' / (name + '.stdout')).read_text(errors='replace')[-3000:]}\n"
                    f"--- {name}.log ---\n{self.log(name)[-3000:]}")

    def start(self, timeout: float = 60) -> None:
        munge_dir = self.root / "munge"
        sock = munge_dir / "munge.socket"
        self._start("munged", [
            _which("munged"), "-F", "-f", f"--socket={sock}",
            f"--key-file={munge_dir / 'munge.key'}",
            f"--pid-file={munge_dir / 'munged.pid'}",
            f"--seed-file={munge_dir / 'munged.seed'}",
            f"--log-file={self.root / 'log' / 'munged.log'}"])
        deadline = time.time() + 20
        while not sock.exists():
            self._check_alive("waiting for the munge socket")
            if time.time() > deadline:
                raise RuntimeError("munged did not create its socket")
            time.sleep(0.1)
        self._start("slurmctld", [_which("slurmctld"), "-D", "-i", "-f", str(self.conf)])
        self._start("slurmd", [_which("slurmd"), "-D", "-f", str(self.conf),
                               "-N", self.nodename])
        deadline = time.time() + timeout
        state = ""
        while time.time() < deadline:
            self._check_alive("waiting for the node to become idle")
            state = self.node_state()
            if state == "idle":
                return
            time.sleep(0.5)
        raise RuntimeError(f"node {self.nodename} not idle after {timeout}s "
                           f"(state={state!r})\n{self.log('slurmctld')[-3000:]}\n"
                           f"{self.log('slurmd')[-3000:]}")

    def stop(self) -> None:
        if not self.procs:
            return
        if self.procs.get("slurmctld") and self.procs["slurmctld"].poll() is None:
            # cancel our jobs first so no slurmstepd of this cluster outlives it
            self.run("scancel", "--full", "-u", str(os.getuid()), check=False, timeout=30)
            deadline = time.time() + 30
            while time.time() < deadline:
                res = self.run("squeue", "-h", "-o", "%i", check=False, timeout=30)
                if res.returncode != 0 or not res.stdout.strip():
                    break
                time.sleep(0.5)
        for name in ("slurmd", "slurmctld", "munged"):  # reverse start order
            p = self.procs.get(name)
            if p is None or p.poll() is not None:
                continue
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
        self.procs.clear()


SLURM_CONF_TEMPLATE = """\
# generated by tests/slurm_cluster.py -- private single-node test cluster
ClusterName=seqjepatest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser={user}
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={munge_socket}
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/run/slurmctld.pid
SlurmdPidFile={root}/run/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig={root}/plugstack.conf
# container-safe: no cgroups anywhere
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
{gres_line}SchedulerType=sched/backfill
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
# keep finished jobs visible to squeue (no slurmdbd -> no sacct)
MinJobAge=600
KillWait=5
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=60
NodeName={host} NodeAddr=127.0.0.1 {topology} RealMemory={mem_mb}{node_gres} State=UNKNOWN
PartitionName=cpu Nodes={host} Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes={host} Default=NO MaxTime=INFINITE State=UP
"""


FAKE_GPU_TYPE = "fakegpu"


def make_cluster(root: Path, fake_gpus: int = 2) -> SlurmCluster:
    root = Path(root)
    for d in ("munge", "state", "spool", "run", "log"):
        (root / d).mkdir(parents=True, exist_ok=True)
    os.chmod(root / "munge", 0o700)
    key = root / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    os.chmod(key, 0o400)
    (root / "plugstack.conf").write_text("")
    topo, cpus, mem = _node_hardware()
    mem_mb = max(512, int(mem * 0.9))  # slurmd drains the node if config > real
    host = socket.gethostname().split(".")[0]
    gres_line = node_gres = ""
    if fake_gpus:
        # GRES "gpu" backed by plain files: no CUDA device exists, but SLURM
        # schedules it like a GPU (--gpus=<type>:<n> works, CUDA_VISIBLE_DEVICES
        # and SLURM_GPUS get set).  Possible only because nothing constrains
        # devices (task/none, no cgroup.conf).  Real CUDA is of course absent.
        (root / "dev").mkdir(exist_ok=True)
        lines = ["AutoDetect=off"]
        for i in range(fake_gpus):
            dev = root / "dev" / f"nvidia{i}"
            try:  # slurmd wants a char device: clone /dev/null (1,3)
                os.mknod(dev, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
            except OSError:
                dev = Path("/dev/null")  # no CAP_MKNOD: still a char device
            lines.append(f"NodeName={host} Name=gpu Type={FAKE_GPU_TYPE} File={dev}")
        (root / "gres.conf").write_text("\n".join(lines) + "\n")
        gres_line = "GresTypes=gpu\n"
        node_gres = f" Gres=gpu:{FAKE_GPU_TYPE}:{fake_gpus}"
    conf = root / "slurm.conf"
    # srun shim: snakemake-executor-plugin-slurm-jobstep 0.6.x strips every
    # SLURM_* variable except a few job ids (SLURM_CONF included) before its
    # inner `srun`, so srun would not find a slurm.conf outside /etc/slurm.
    # Real clusters keep slurm.conf in the default place; here we re-inject it.
    (root / "bin").mkdir(exist_ok=True)
    shim = root / "bin" / "srun"
    shim.write_text(f'#!/bin/sh\nexport SLURM_CONF="${{SLURM_CONF:-{conf}}}"\n'
                    f'exec {_which("srun")} "$@"\n')
    shim.chmod(0o755)
    conf.write_text(SLURM_CONF_TEMPLATE.format(
        host=host, root=root, ctld_port=_free_port(), slurmd_port=_free_port(),
        user=pwd.getpwuid(os.getuid()).pw_name, munge_socket=root / "munge" / "munge.socket",
        topology=topo, mem_mb=mem_mb, gres_line=gres_line, node_gres=node_gres))
    return SlurmCluster(root=root, conf=conf, nodename=host, cpus=cpus, mem_mb=mem_mb,
                        gpus=fake_gpus, gpu_model=FAKE_GPU_TYPE if fake_gpus else "")


@pytest.fixture(scope="session")
def slurm_cluster():
    """Session-wide private SLURM cluster (see module docstring)."""
    ensure_slurm_installed()
    if os.geteuid() != 0:
        # slurmd must run as root to launch jobs (and setuid to the job user)
        pytest.skip("a private slurmd needs root")
    root = Path(tempfile.mkdtemp(prefix="sjslurm-"))
    os.chmod(root, 0o755)
    cluster = make_cluster(root)
    atexit.register(cluster.stop)  # belt and braces if pytest dies hard
    try:
        cluster.start()
    except Exception as e:  # noqa: BLE001
        cluster.stop()
        pytest.fail(f"could not start the private SLURM cluster under {root}: {e}")
    yield cluster
    cluster.stop()
    if os.environ.get("SEQJEPA_KEEP_SLURM_TMP") != "1":
        shutil.rmtree(root, ignore_errors=True)
