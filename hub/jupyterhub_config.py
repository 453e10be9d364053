"""JupyterHub for one class of the course: ``make hub`` starts it (as root: PAM log-in and one system user per
person). docs/instructors.md, section 4, is the walk-through; ``tests/test_hub.py`` runs a whole term on it.

Everything this file needs comes from the environment, which ``make hub`` sets from its variables:

- ``SPECDEC_HUB_ROOT``: the hub's folder (``tools/hub.py prepare`` made it): the learners' environment ``venv/``,
  nbgrader's ``exchange/``, the configuration every server reads ``etc/jupyter/``, the lessons' committed results
  ``course/`` and the converted SmolLM2 ``cache/`` (both read-only), the hub's own ``state/``;
- ``SPECDEC_HUB_INSTRUCTOR`` and ``SPECDEC_HUB_STUDENTS`` (names separated by spaces): who may log in, with
  their system passwords (PAM); the instructor is the hub's admin;
- ``SPECDEC_HUB_IP`` and ``SPECDEC_HUB_PORT`` (127.0.0.1:8000), ``SPECDEC_HUB_API_PORT`` (8081) and
  ``SPECDEC_PROXY_API_PORT`` (8001): where the proxy, the hub and the proxy's API listen;
- ``SPECDEC_HUB_MEMORY`` (``3G``) and ``SPECDEC_HUB_IDLE_MINUTES`` (60): each person's memory limit, and how
  long an idle server lives before the culler stops it.
"""

import os
import sys
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner

c = get_config()  # noqa: F821  (provided by JupyterHub when it loads this file)
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tools"))
from sandbox import size_bytes  # noqa: E402  (tools/sandbox.py: "3G" -> bytes, as the grader's limits read it)

ROOT = Path(os.environ.get("SPECDEC_HUB_ROOT", "/srv/specdec-hub"))
INSTRUCTOR = os.environ.get("SPECDEC_HUB_INSTRUCTOR", "").strip()
STUDENTS = set(os.environ.get("SPECDEC_HUB_STUDENTS", "").split())
MEMORY = os.environ.get("SPECDEC_HUB_MEMORY", "3G")
IDLE_MINUTES = int(os.environ.get("SPECDEC_HUB_IDLE_MINUTES", "60"))
if not INSTRUCTOR:
    sys.exit("hub/jupyterhub_config.py: no instructor: start the hub with `make hub INSTRUCTOR=name STUDENTS=\"a b\"`")
if not (ROOT / "venv" / "bin" / "jupyterhub-singleuser").exists():
    sys.exit(f"hub/jupyterhub_config.py: {ROOT}/venv has no jupyterhub-singleuser: start the hub with `make hub`, "
             "which builds the learners' environment there first")

# --- Where it listens, and its own state -------------------------------------------------------------------
c.JupyterHub.bind_url = f"http://{os.environ.get('SPECDEC_HUB_IP', '127.0.0.1')}:{os.environ.get('SPECDEC_HUB_PORT', '8000')}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ.get("SPECDEC_HUB_API_PORT", "8081"))
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ.get('SPECDEC_PROXY_API_PORT', '8001')}"
c.ConfigurableHTTPProxy.command = [str(HERE / "node_modules" / ".bin" / "configurable-http-proxy")]
STATE = ROOT / "state"
STATE.mkdir(mode=0o700, exist_ok=True)
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")

# --- Who logs in: system users, PAM passwords ------------------------------------------------------------
c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = STUDENTS | {INSTRUCTOR}
c.Authenticator.admin_users = {INSTRUCTOR}


# --- Each person's server: the course's environment, their own user, a memory limit ----------------------
class CourseSpawner(LocalProcessSpawner):
    """A server as the person's own system user, in a memory cgroup of its own (``SPECDEC_HUB_MEMORY``), so that
    one learner's kernel that runs away is stopped by the kernel before it starves the others. Where no memory
    cgroup can be made (a container without one), the hub says so in its log and runs without the limit."""

    async def start(self):
        started = await super().start()
        group = self._memory_group()
        if group is not None:
            (group / "cgroup.procs").write_text(str(self.pid))
        return started

    def _memory_group(self) -> Path | None:
        v1, v2 = Path("/sys/fs/cgroup/memory"), Path("/sys/fs/cgroup")
        if (v1 / "memory.limit_in_bytes").exists():
            base, limit = v1, "memory.limit_in_bytes"
        elif "memory" in ((v2 / "cgroup.controllers").read_text() if (v2 / "cgroup.controllers").exists() else ""):
            base, limit = v2, "memory.max"
        else:
            self.log.warning("no memory cgroup on this machine: %s's server has no memory limit", self.user.name)
            return None
        try:
            group = base / "specdec-hub" / self.user.name
            group.mkdir(parents=True, exist_ok=True)
            (group / limit).write_text(str(size_bytes(MEMORY)))
            return group
        except OSError as error:
            self.log.warning("no memory limit for %s: %s", self.user.name, error)
            return None


c.JupyterHub.spawner_class = CourseSpawner
c.Spawner.cmd = [str(ROOT / "venv" / "bin" / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.mem_limit = MEMORY  # shown to JupyterLab's resource display; the cgroup above enforces it
c.Spawner.environment = {
    "PATH": f"{ROOT / 'venv' / 'bin'}:/usr/local/bin:/usr/bin:/bin",
    "JUPYTER_CONFIG_PATH": str(ROOT / "etc" / "jupyter"),  # the course id and the exchange (tools/hub.py)
    "SPECDEC_COURSE_DIR": str(ROOT / "course"),  # the committed results the lessons load, read-only
    "SPECDEC_CACHE": str(ROOT / "cache"),  # SmolLM2, converted once for everyone, read-only
    "SHELL": "/bin/bash",
}
c.Spawner.start_timeout = 180  # a first start on a busy 2-core machine imports JupyterLab in about 20 s
c.Spawner.http_timeout = 180

# --- Idle servers are stopped (jupyterhub-idle-culler), so their memory goes back to the others -------------
c.JupyterHub.load_roles = [{
    "name": "idle-culler",
    "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
    "services": ["idle-culler"],
}]
c.JupyterHub.services = [{
    "name": "idle-culler",
    "command": [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={IDLE_MINUTES * 60}"],
}]
