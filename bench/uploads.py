"""Upload throughput and the server's memory while files stream in (``manage.py bench_upload``).

Each scenario runs on a fresh daphne (its own SQLite file and media folder,
or the stack that ``DATABASE_URL``/``AWS_STORAGE_BUCKET_NAME`` name), so the
peak RSS it reports is that scenario's: the daphne process's resident set,
sampled every 50 ms while the uploads run, against the same process idle
just before. Clients are threads with their own signed-in session each,
sending real multipart requests over loopback.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from .procstat import rss_kb
from .server import free_port, launch_daphne, manage_in

PASSWORD = "linkup-bench-uploads"
MB = 1024 * 1024


@dataclass
class UploadResult:
    label: str
    clients: int
    files_per_client: int
    size: int
    seconds: float
    ok: int
    refused: int
    rss_before_kb: int
    rss_peak_kb: int

    @property
    def megabytes(self) -> float:
        return self.ok * self.size / MB

    @property
    def throughput(self) -> float:
        return self.megabytes / self.seconds if self.seconds else 0.0

    def row(self) -> str:
        return (
            f"| {self.label} | {self.clients} | {self.files_per_client} | {self.size // MB} MB | {self.ok} / {self.refused} "
            f"| {self.seconds:.2f} | {self.throughput:.1f} | {self.rss_before_kb / 1024:.1f} → {self.rss_peak_kb / 1024:.1f} "
            f"| **{(self.rss_peak_kb - self.rss_before_kb) / 1024:.1f}** |"
        )


class Client:
    def __init__(self, base: str, conversation: int) -> None:
        self.base = base
        self.conversation = conversation
        self.http = requests.Session()
        self.http.get(f"{base}/accounts/login/")
        self.http.post(
            f"{base}/accounts/login/",
            data={"username": "alice", "password": PASSWORD, "csrfmiddlewaretoken": self.http.cookies["csrftoken"]},
            headers={"Referer": f"{base}/accounts/login/"},
        ).raise_for_status()
        self.http.get(f"{base}/messages/")

    def upload(self, path: Path) -> int:
        with path.open("rb") as handle:
            response = self.http.post(
                f"{self.base}/messages/api/conversations/{self.conversation}/attachments",
                files=[("file", (path.name, handle, "application/octet-stream"))],
                headers={"X-CSRFToken": self.http.cookies["csrftoken"], "Referer": f"{self.base}/messages/"},
            )
        return response.status_code


class Sampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = rss_kb(pid) or 0
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            self.peak = max(self.peak, rss_kb(self.pid) or 0)
            time.sleep(0.05)


def run_scenario(label: str, *, clients: int, files_per_client: int, size: int, work: Path) -> UploadResult:
    """One fresh daphne, ``clients`` sessions each uploading ``files_per_client`` files of ``size`` bytes at once."""
    var_dir = Path(tempfile.mkdtemp(prefix="linkup-bench-upload-"))
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "linkup.settings",
            "LINKUP_VAR_DIR": str(var_dir),
            "DEBUG": "false",
            "MESSAGING_UPLOAD_QUOTA_BYTES": str(1 << 40),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.pop("SQLITE_PATH", None)
    manage_in(env, "migrate", "--no-input", "-v", "0")
    manage_in(env, "create_demo_users", "--password", PASSWORD)
    code = (
        "from django.contrib.auth import get_user_model; from messaging.store.conversations import get_or_create_direct; "
        "U = get_user_model(); print(get_or_create_direct(U.objects.get(username='alice'), U.objects.get(username='bob'))[0].pk)"
    )
    conversation = int(manage_in(env, "shell", "-c", code).strip().splitlines()[-1])
    port = free_port()
    process = launch_daphne(env, port, var_dir / "daphne.log")
    try:
        base = f"http://127.0.0.1:{port}"
        sessions = [Client(base, conversation) for _ in range(clients)]
        payload = work / f"payload-{size}.bin"
        if not payload.exists():
            with payload.open("wb") as handle:
                for _ in range(size // MB):
                    handle.write(os.urandom(MB))
                handle.write(os.urandom(size % MB))
        # one warm-up upload (imports, the first connection) outside the measure
        sessions[0].upload(work / "warmup.bin" if (work / "warmup.bin").exists() else _warmup(work))
        sampler = Sampler(process.pid)
        statuses: list[int] = []
        lock = threading.Lock()

        def client(session: Client) -> None:
            for _ in range(files_per_client):
                status = session.upload(payload)
                with lock:
                    statuses.append(status)

        threads = [threading.Thread(target=client, args=(s,)) for s in sessions]
        before = sampler.peak
        sampler.start()
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
        sampler.stopping.set()
        sampler.join()
        return UploadResult(
            label,
            clients,
            files_per_client,
            size,
            seconds,
            ok=sum(1 for s in statuses if s == 201),
            refused=sum(1 for s in statuses if s != 201),
            rss_before_kb=before,
            rss_peak_kb=sampler.peak,
        )
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(var_dir, ignore_errors=True)


def _warmup(work: Path) -> Path:
    path = work / "warmup.bin"
    path.write_bytes(os.urandom(64 * 1024))
    return path


def run_all(*, quick: bool = False) -> list[UploadResult]:
    work = Path(tempfile.mkdtemp(prefix="linkup-bench-payloads-"))
    try:
        scenarios = [
            ("1 MB, one client", 1, 2 if quick else 20, 1 * MB),
            ("20 MB, one client", 1, 1 if quick else 5, 20 * MB),
            ("1 MB, 10 clients at once", 10, 1, 1 * MB),
            ("20 MB, 10 clients at once", 10, 1, 20 * MB),
        ]
        if quick:
            scenarios = [(label, min(c, 2), n, min(size, 2 * MB)) for label, c, n, size in scenarios[:2]]
        return [
            run_scenario(label, clients=c, files_per_client=n, size=size, work=work) for label, c, n, size in scenarios
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)


HEADER = (
    "| scenario | clients | files each | size | stored / refused | seconds | MB/s | server RSS idle → peak MB | **growth MB** |\n"
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
)
