"""Run a submission's notebook kernel in a bubblewrap sandbox, in a throwaway folder (``tools/grading.py`` uses it).

nbgrader itself runs in the grading process, which holds the gradebook and writes ``autograded/``; only the
kernel, which executes the student's code, runs inside the sandbox. The sandbox is `bubblewrap
<https://github.com/containers/bubblewrap>`_ (``bwrap``, Debian's package ``bubblewrap``), the sandbox behind
Flatpak, with new user, PID, mount, network, IPC, UTS and cgroup namespaces:

* **Files.** The kernel sees only what it needs, read-only: the system's ``/usr`` (and ``/lib``, ``/bin``
  ...), a few files of ``/etc``, the Python installation and the course's environment (``.venv``), and of the
  course folder only ``specdec_lite/``, ``results/`` and ``docs/gpu_runs/`` (what lessons read) and the
  converted SmolLM2 cache. Its working folder, where nbgrader says the notebook lives, is a copy made for
  this submission alone, in a throwaway folder that is deleted afterwards; ``/tmp`` and ``$HOME`` are
  empty tmpfs. Solutions, the gradebook, ``submitted/``, ``autograded/`` and the other students do not
  exist inside. Everything is read-only but the working folder and the tmpfs, and every capability is
  dropped.
* **Network.** None: a new network namespace holds only a loopback. nbgrader talks to the kernel over Unix
  sockets in a folder of their own, deleted with the throwaway folder (in the temporary folder when its path
  is short enough for a socket's address, else in ``/tmp``).
* **Processes.** A new PID namespace: when the kernel ends, or the grading process dies
  (``--die-with-parent``), every process the student started ends with it. The kernel's own output goes
  to a log file in the throwaway folder, never to the grader's console. Interrupts (nbgrader's cell
  timeout) are sent as Jupyter messages, which the kernel turns into ``KeyboardInterrupt``.
* **Limits** (plain resource limits on the kernel, set before it starts): address space, CPU seconds and
  file size per process, and the number of processes: a pids cgroup where the grader may create one (root,
  or a delegated cgroup), else ``RLIMIT_NPROC`` (which binds only a grader that is not root).

What it does not protect against is in docs/instructors.md, section 5.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

__all__ = ["Limits", "Jail", "SandboxedKernelManager", "missing", "active", "size_bytes"]

# Files of /etc that Python, matplotlib and the C library read; nothing else of /etc is visible.
ETC = ("passwd", "group", "hosts", "nsswitch.conf", "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime",
       "fonts", "mime.types", "ssl")
# The top-level system folders, bound read-only (or re-created as the symbolic links they are).
SYSTEM = ("usr", "bin", "sbin", "lib", "lib32", "lib64")
CGROUP_ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))
# A Unix socket's address holds at most 107 bytes (Linux's sun_path), and ZeroMQ refuses a longer one ("File name
# too long"): the kernel's sockets are <folder>/kernel-<n>, so their folder's path is kept to this many characters.
SOCKET_FOLDER_MAX = 80


def missing() -> str | None:
    """None when this machine can run the sandbox, else why not, in words, with what to do."""
    if shutil.which("bwrap") is None:
        return ("bubblewrap (`bwrap`) is not installed: install it with `sudo apt-get install bubblewrap` "
                "(Debian, Ubuntu) or `sudo dnf install bubblewrap` (Fedora)")
    probe = subprocess.run(["bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return ("bubblewrap cannot create namespaces on this machine (`bwrap --unshare-all --ro-bind / / true` "
                f"failed: {probe.stderr.strip() or probe.returncode}); the kernel must allow unprivileged user "
                "namespaces (sysctl kernel.unprivileged_userns_clone=1), or grade inside a container (docs/instructors.md)")
    return None


@dataclass
class Limits:
    """Resource limits of one sandboxed kernel (sizes like ``"4G"``)."""

    memory: str = "4G"
    cpu_seconds: int = 900
    file_size: str = "1G"
    processes: int = 256


def size_bytes(size: str) -> int:
    """``"4G"`` -> 4 * 2**30 (suffixes K, M, G; a plain number is bytes)."""
    units = {"K": 2**10, "M": 2**20, "G": 2**30}
    text = str(size).strip().upper().removesuffix("B").removesuffix("I")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def _pids_cgroup(name: str, limit: int) -> Path | None:
    """A new pids cgroup holding at most ``limit`` processes, or None where this process may not make one."""
    for root in CGROUP_ROOTS:
        group = root / name
        if not (root / "cgroup.procs").exists():
            continue
        try:
            group.mkdir()
        except OSError:
            continue
        try:
            (group / "pids.max").write_text(str(limit))
            return group
        except OSError:  # a cgroup v2 tree without the pids controller
            group.rmdir()
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _tasks_of_this_user() -> int:
    """How many processes and threads this user runs now (``RLIMIT_NPROC`` counts them all, not the kernel's)."""
    count = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        fields = dict(line.split(":", 1) for line in _read(status).splitlines() if ":" in line)
        if fields.get("Uid", "").split()[:1] == [str(os.getuid())]:
            count += int(fields.get("Threads", "1").strip() or 1)
    return count


@dataclass
class Jail:
    """The throwaway folder and sandbox of one submission's kernel: use it as a context manager.

    ``readable`` are the host paths the kernel may read (bound read-only at the same place). While the jail
    is open, :class:`SandboxedKernelManager` starts every kernel inside it (:func:`active`).
    """

    readable: list[Path]
    limits: Limits = field(default_factory=Limits)
    root: Path = field(init=False)
    sockets: Path = field(init=False)
    cgroup: Path | None = field(init=False, default=None)
    managers: list = field(init=False, default_factory=list)
    _log: object = field(init=False, default=None)

    def __enter__(self) -> "Jail":
        global _ACTIVE
        self.root = Path(tempfile.mkdtemp(prefix="specdec-grading-"))
        (self.root / "work").mkdir()
        self.sockets = _socket_folder()
        self.cgroup = _pids_cgroup(self.root.name, self.limits.processes)
        _ACTIVE = self
        return self

    def __exit__(self, *exc) -> None:
        global _ACTIVE
        _ACTIVE = None
        self.kill_all()
        if self.cgroup is not None:
            for _ in range(50):
                try:
                    self.cgroup.rmdir()
                    break
                except OSError:
                    self.kill_all()
                    time.sleep(0.1)
        if self._log is not None:
            self._log.close()
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self.sockets, ignore_errors=True)

    def processes(self) -> list[int]:
        """The processes still running in the jail's cgroup (empty where there is no cgroup)."""
        if self.cgroup is None:
            return []
        return [int(pid) for pid in _read(self.cgroup / "cgroup.procs").split()]

    def kill_all(self) -> None:
        """Kill the kernel (its PID namespace goes with it) and anything left in the cgroup."""
        for manager in self.managers:
            pid = getattr(manager.provisioner, "pid", None)
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for pid in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def command(self, kernel: list[str], folder: Path) -> list[str]:
        """``kernel`` (the kernelspec's command) run by bubblewrap, with ``folder`` (the notebook's folder as
        nbgrader sees it) backed by a copy in the throwaway folder."""
        work = self.root / "work"
        shutil.copytree(folder, work, dirs_exist_ok=True)
        args = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
                "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
        for name in SYSTEM:
            path = Path("/") / name
            if path.is_symlink():
                args += ["--symlink", os.readlink(path), str(path)]
            elif path.is_dir():
                args += ["--ro-bind", str(path), str(path)]
        for name in ETC:
            args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        for path in self.readable:
            args += ["--ro-bind", str(path), str(path)]
        home = "/tmp/home"
        args += ["--bind", str(work), str(folder), "--bind", str(self.sockets), str(self.sockets),
                 "--dir", home, "--chdir", str(folder), "--clearenv",
                 "--setenv", "PATH", os.pathsep.join([str(Path(kernel[0]).parent), "/usr/bin", "/bin"]),
                 "--setenv", "HOME", home, "--setenv", "TMPDIR", "/tmp", "--setenv", "MPLBACKEND", "Agg",
                 "--setenv", "MPLCONFIGDIR", f"{home}/.matplotlib", "--setenv", "LANG", "C.UTF-8",
                 "--setenv", "PYDEVD_DISABLE_FILE_VALIDATION", "1"]
        for name in ("SPECDEC_CACHE", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "TORCH_NUM_THREADS"):
            if name in os.environ:
                args += ["--setenv", name, os.environ[name]]
        return [*args, "--", *kernel]

    def start(self) -> dict:
        """Popen arguments for the kernel: output to the jail's log, limits and cgroup set before it starts."""
        limits, cgroup = self.limits, self.cgroup
        # without a cgroup, RLIMIT_NPROC counts every process of this user: allow what runs already, plus the limit
        processes = None if cgroup is not None else _tasks_of_this_user() + limits.processes

        def before_exec() -> None:  # runs in the child, between fork and exec
            if cgroup is not None:
                with open(cgroup / "cgroup.procs", "w") as handle:
                    handle.write(str(os.getpid()))
            caps = [(resource.RLIMIT_AS, size_bytes(limits.memory)), (resource.RLIMIT_CPU, limits.cpu_seconds),
                    (resource.RLIMIT_FSIZE, size_bytes(limits.file_size))]
            for name, value in caps + ([] if cgroup is not None else [(resource.RLIMIT_NPROC, processes)]):
                resource.setrlimit(name, (value, value))

        self._log = self._log or open(self.root / "kernel.log", "ab")  # noqa: SIM115  (closed with the jail)
        return {"stdout": self._log, "stderr": subprocess.STDOUT, "stdin": subprocess.DEVNULL, "preexec_fn": before_exec}


def _socket_folder() -> Path:
    """A new folder for one kernel's sockets: in the temporary folder (``TMPDIR``) when its path is short enough
    for a socket's address, else in ``/tmp``."""
    base = tempfile.gettempdir()
    if len(os.path.join(base, "specdec-sockets-12345678")) > SOCKET_FOLDER_MAX:
        base = "/tmp"
    return Path(tempfile.mkdtemp(prefix="specdec-sockets-", dir=base))


_ACTIVE: Jail | None = None


def active() -> Jail:
    """The open jail; a sandboxed kernel outside one is refused."""
    if _ACTIVE is None:
        raise RuntimeError("a sandboxed kernel was asked for outside a grading jail (tools/sandbox.py's Jail)")
    return _ACTIVE


class SandboxedKernelManager(AsyncKernelManager):
    """Jupyter's kernel manager, starting its kernel inside the open :class:`Jail`, over Unix sockets."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        jail = active()
        jail.managers.append(self)
        self.transport = "ipc"
        self.ip = str(jail.sockets / "kernel")
        self.connection_file = str(jail.sockets / "connection.json")
        self._folder = None

    async def start_kernel(self, **kw):
        self._folder = Path(kw.get("cwd") or os.getcwd())
        self.kernel_spec.interrupt_mode = "message"  # a signal would stop at bwrap; ipykernel handles the message
        kw.update(active().start())
        await super().start_kernel(**kw)

    def format_kernel_cmd(self, extra_arguments=None) -> list[str]:
        return active().command(super().format_kernel_cmd(extra_arguments), self._folder)
