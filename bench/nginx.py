"""nginx in front of daphne processes, run with the configuration ``docs/deployment.md`` gives.

The fenced ``nginx`` block that follows ``<!-- tested-config: nginx -->`` in
``docs/deployment.md`` ("The load balancer") *is* the configuration: this
module reads it from the document and changes only what must differ on a test
or benchmark machine, each change a literal substitution that must match
exactly as often as stated (a doc edit that breaks one fails loudly instead of
running some other configuration):

- ``listen 443 ssl;`` becomes ``listen 127.0.0.1:<port>;``: plain http on a
  free loopback port (no certificate on a test machine; the TLS lines of a
  real site are the operator's);
- the upstream's ``server 127.0.0.1:8001; server 127.0.0.1:8002;`` become the
  ports of the daphne processes actually started;
- ``/srv/linkup/var/`` becomes the servers' ``LINKUP_VAR_DIR``, so ``/static/``
  is the folder their ``collectstatic`` filled.

The document's block is what an operator puts in ``sites-enabled``: the
``http``-level part. Around it goes what Debian's ``/etc/nginx/nginx.conf``
provides (``events``, the MIME types), with the pid file, the logs and the
temporary folders in a folder of this run, and ``user root`` when run as root
(nginx's workers would otherwise switch to ``nobody``, who may not enter the
test's private folders). The access log records ``$upstream_addr``: nginx's own
account of which daphne served each request.

nginx is Debian's (``scripts/system-deps`` installs it); it runs as a child of
the caller with ``daemon off``, never as the system service.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from .server import BenchServer, free_port, launch_daphne
from .users import Seed

DEPLOYMENT_DOC = Path(__file__).resolve().parent.parent / "docs" / "deployment.md"
MARKER = "<!-- tested-config: nginx -->"
DOC_LISTEN = "listen 443 ssl;"
DOC_VAR_DIR = "/srv/linkup/var/"
DOC_UPSTREAM = re.compile(r"(upstream linkup \{)([^}]*)(\})")
#: the upstream's run of ``server 127.0.0.1:<port>;`` entries
DOC_SERVERS = re.compile(r"server 127\.0\.0\.1:\d+;(?:\s+server 127\.0\.0\.1:\d+;)+")
#: the access log's line: method, path, status, and the daphne that answered
ACCESS_FORMAT = "'$request_method $uri $status upstream=$upstream_addr'"
DEBIAN_MIME_TYPES = Path("/etc/nginx/mime.types")


class ConfigDrift(ValueError):
    """The document no longer has what a substitution expects: fix the document or this module, together."""


class NginxDidNotStart(RuntimeError):
    pass


def nginx_binary() -> str | None:
    """Debian's nginx (in /usr/sbin, which is not on an unprivileged user's PATH), or one on PATH."""
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None


def documented_config(doc: Path = DEPLOYMENT_DOC) -> str:
    """The fenced ``nginx`` block right after the one ``tested-config: nginx`` marker of ``doc``."""
    text = doc.read_text()
    if text.count(MARKER) != 1:
        raise ConfigDrift(f"{doc} must hold {MARKER!r} exactly once, before the tested nginx block")
    match = re.compile(r"\s*```nginx\n(.*?)\n```", re.DOTALL).match(text, text.index(MARKER) + len(MARKER))
    if match is None:
        raise ConfigDrift(f"{MARKER!r} in {doc} is not followed by a fenced nginx block")
    return match.group(1)


def _replace_once(text: str, old: str, new: str) -> str:
    if text.count(old) != 1:
        raise ConfigDrift(f"expected {old!r} exactly once in the documented nginx block, found {text.count(old)}")
    return text.replace(old, new)


def localise(config: str, *, listen_port: int, upstream_ports: list[int], var_dir: Path) -> str:
    """The documented block with the three substitutions of this module's docstring, and nothing else changed."""
    config = _replace_once(config, DOC_LISTEN, f"listen 127.0.0.1:{listen_port};")
    upstream = DOC_UPSTREAM.search(config)
    if upstream is None or len(DOC_UPSTREAM.findall(config)) != 1 or len(DOC_SERVERS.findall(upstream.group(2))) != 1:
        raise ConfigDrift("expected one 'upstream linkup { server 127.0.0.1:8001; server 127.0.0.1:8002; }'")
    servers = " ".join(f"server 127.0.0.1:{port};" for port in upstream_ports)
    body = DOC_SERVERS.sub(servers, upstream.group(2))
    config = config[: upstream.start(2)] + body + config[upstream.end(2) :]
    var = str(var_dir).rstrip("/") + "/"
    if DOC_VAR_DIR not in config:
        raise ConfigDrift(f"expected {DOC_VAR_DIR!r} (the static folder's parent) in the documented nginx block")
    return config.replace(DOC_VAR_DIR, var)


def whole_config(site: str, directory: Path) -> str:
    """``site`` inside the main context Debian's nginx.conf would give it, with this run's files in ``directory``."""
    lines = []
    if os.geteuid() == 0:
        lines.append(f"user {pwd.getpwuid(0).pw_name};")
    lines += [
        "worker_processes 1;",
        f"pid {directory}/nginx.pid;",
        f"error_log {directory}/error.log notice;",
        "events { worker_connections 1024; }",
        "http {",
    ]
    if DEBIAN_MIME_TYPES.exists():
        lines.append(f"    include {DEBIAN_MIME_TYPES};")
    lines += [
        "    default_type application/octet-stream;",
        f"    log_format upstreams {ACCESS_FORMAT};",
        f"    access_log {directory}/access.log upstreams;",
        *(
            f"    {kind}_temp_path {directory}/{kind}_temp;"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        ),
        site,
        "}",
    ]
    return "\n".join(lines) + "\n"


@dataclass
class Nginx:
    """Debian's nginx, with the documented configuration, in front of ``upstream_ports`` on a free port."""

    directory: Path
    upstream_ports: list[int]
    var_dir: Path
    port: int = 0
    process: subprocess.Popen | None = None
    config: str = field(default="", init=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.directory / "nginx.conf"

    def write_config(self) -> Path:
        if not self.port:
            self.port = free_port()
        self.directory.mkdir(parents=True, exist_ok=True)
        site = localise(
            documented_config(), listen_port=self.port, upstream_ports=self.upstream_ports, var_dir=self.var_dir
        )
        self.config = whole_config(site, self.directory)
        self.config_path.write_text(self.config)
        return self.config_path

    def command(self, *extra: str) -> list[str]:
        binary = nginx_binary()
        if binary is None:
            raise NginxDidNotStart("nginx is not installed: run 'sudo scripts/system-deps' (Debian's nginx)")
        return [
            binary,
            "-p",
            f"{self.directory}/",
            "-c",
            str(self.config_path),
            "-e",
            f"{self.directory}/error.log",
            *extra,
        ]

    def start(self, timeout: float = 10) -> Nginx:
        self.write_config()
        self.process = subprocess.Popen(
            self.command("-g", "daemon off;"), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise NginxDidNotStart(f"nginx exited with {self.process.returncode}:\n{self.error_log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise NginxDidNotStart(f"nginx did not listen on 127.0.0.1:{self.port}:\n{self.error_log()}")

    def stop(self) -> None:
        """SIGTERM: nginx's fast shutdown (open sockets are closed)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def error_log(self) -> str:
        return _read(self.directory / "error.log")

    def access_log(self) -> list[str]:
        return _read(self.directory / "access.log").splitlines()


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


class NginxTopology:
    """``bench_chat --nginx``: the benchmark's server and a second daphne on its database, behind the documented nginx.

    The deployment topology of ``docs/deployment.md`` on one machine: clients
    reach only nginx, which spreads them over the two daphnes (round robin);
    PostgreSQL and Redis carry what crosses between them, so it needs the
    deployment stack. No process id is given to the run (two servers and
    nginx share the work), so it reports no server CPU or memory, and there is
    no restart between phases.
    """

    pid = None
    restart = None

    def __init__(self, server: BenchServer) -> None:
        self.server = server
        self.second: subprocess.Popen | None = None
        self.nginx: Nginx | None = None

    @property
    def base_url(self) -> str:
        assert self.nginx is not None, "start the topology first"
        return self.nginx.base_url

    @property
    def stack(self) -> dict[str, str]:
        return {**self.server.stack, "front": "nginx (docs/deployment.md) in front of 2 daphne processes"}

    @property
    def var_dir(self) -> Path:
        return self.server.var_dir

    @property
    def log_path(self) -> Path:
        return self.server.log_path

    def log_tail(self) -> str:
        return self.server.log_tail() + (self.nginx.error_log() if self.nginx else "")

    def seed(self, pairs: int, password: str, group_members: int, group_online: int) -> Seed:
        return self.server.seed(pairs, password, group_members, group_online)

    def __enter__(self) -> NginxTopology:
        self.server.__enter__()
        try:
            port = free_port()
            self.second = launch_daphne(self.server.env, port, self.server.var_dir / "daphne-2.log")
            self.nginx = Nginx(self.server.var_dir / "nginx", [self.server.port, port], self.server.var_dir).start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.nginx is not None:
            self.nginx.stop()
        if self.second is not None and self.second.poll() is None:
            self.second.terminate()
            try:
                self.second.wait(15)
            except subprocess.TimeoutExpired:
                self.second.kill()
                self.second.wait(10)
        self.server.__exit__()
