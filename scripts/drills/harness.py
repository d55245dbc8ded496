"""What every drill needs: throwaway PostgreSQL and Redis on 127.0.0.1 (like scripts/with-services,
but controllable: Redis stopped and started, PostgreSQL restarted), the app's processes in their
production shape (gunicorn, Celery worker and beat), and the one `DRILL` line.

Run as root, PostgreSQL runs as the `postgres` user (initdb refuses root), as in with-services.
"""

from __future__ import annotations

import base64
import collections
import glob
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PYTHON = str(ROOT / ".venv" / "bin" / "python")
BIN = ROOT / ".venv" / "bin"
PASSWORD = "drill-password-1"


def drill_line(name: str, **values: Any) -> str:
    line = "DRILL " + name + " " + " ".join(f"{key}={value}" for key, value in values.items())
    print(line, flush=True)
    return line


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.getuid() == 0 else command


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    if not found:
        raise SystemExit("PostgreSQL is not installed: run scripts/with-services once (apt-get)")
    return Path(found[-1])


class Postgres:
    """A cluster in `data` (kept when given, else thrown away), on its own port."""

    def __init__(self, work: Path, data: Path | None = None, fast: bool = True) -> None:
        self.bin = _pg_bin()
        self.work = work
        self.data = data or work / "pg"
        self.port = free_port()
        self.fast = fast
        self.log = work / f"pg-{self.port}.log"

    @property
    def url(self) -> str:
        return f"postgres://musterrolle@127.0.0.1:{self.port}/musterrolle"

    def run(self, *command: str, **kwargs: Any) -> subprocess.CompletedProcess:
        return subprocess.run(
            _as_postgres([str(self.bin / command[0]), *command[1:]]), check=True, **kwargs
        )

    def start(self) -> Postgres:
        fresh = not (self.data / "PG_VERSION").exists()
        if fresh:
            self.data.mkdir(parents=True, exist_ok=True)
            self.data.chmod(0o700)
            if os.getuid() == 0:
                shutil.chown(self.data, "postgres")
            self.run(
                "initdb",
                "-D",
                str(self.data),
                "-U",
                "musterrolle",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                stdout=subprocess.DEVNULL,
            )
        self._ctl("start")
        if fresh:
            self.run(
                "createdb",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "musterrolle",
                "musterrolle",
            )
        return self

    def _ctl(self, action: str) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.work} -c max_connections=200"
        )
        if self.fast:
            options += (
                " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
                " -c shared_buffers=512MB -c maintenance_work_mem=512MB -c max_wal_size=4GB"
            )
        self.run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-w",
            "-o",
            options,
            action,
            stdout=subprocess.DEVNULL,
        )

    def restart(self) -> None:
        """Fast restart: every connection is cut, running transactions are rolled back."""
        self.run(
            "pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", stdout=subprocess.DEVNULL
        )
        self._ctl("start")

    def stop(self) -> None:
        subprocess.run(
            _as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop"]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def sql(self, query: str) -> str:
        out = subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "musterrolle",
                "-d",
                "musterrolle",
                "-XAtq",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                query,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip()


class Redis:
    """Redis as the compose file runs it (append-only file): a stop keeps its queue."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.port = free_port()
        self.dir = work / f"redis-{self.port}"
        self.dir.mkdir()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> Redis:
        subprocess.run(
            [
                "redis-server",
                "--daemonize",
                "yes",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--appendonly",
                "yes",
                "--dir",
                str(self.dir),
                "--logfile",
                str(self.dir / "log"),
            ],
            check=True,
        )
        for _ in range(100):
            if self.cli("ping") == "PONG":
                return self
            time.sleep(0.05)
        raise SystemExit("Redis did not start")

    def stop(self) -> None:
        self.cli("shutdown")

    def cli(self, *args: str) -> str:
        out = subprocess.run(
            ["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True
        )
        return out.stdout.strip()


class Stack:
    """The services and the app's processes for one drill; everything is stopped on exit."""

    def __init__(
        self, *, keep: str | None = None, redis: bool = True, fast_pg: bool = True
    ) -> None:
        if not shutil.which("redis-server") or not glob.glob("/usr/lib/postgresql/*/bin"):
            # The same installation as CI's and the benchmark's.
            subprocess.run(
                [str(ROOT / "scripts" / "with-services"), "--redis", "--", "true"], check=True
            )
        self.work = Path(tempfile.mkdtemp(prefix="musterrolle-drill."))
        self.work.chmod(0o755)
        if os.getuid() == 0:
            shutil.chown(self.work, "postgres")
        self.pg = Postgres(self.work, Path(keep) if keep else None, fast=fast_pg)
        self.redis = Redis(self.work) if redis else None
        self.processes: list[subprocess.Popen] = []
        self.mail = self.work / "mail"
        self.mail.mkdir()
        self.secret = secrets.token_urlsafe(50)

    def __enter__(self) -> Stack:
        self.pg.start()
        if self.redis:
            self.redis.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if keep_logs := os.environ.get("DRILL_KEEP_LOGS"):  # to read after a failed drill
            Path(keep_logs).mkdir(parents=True, exist_ok=True)
            for log in self.work.glob("*.log"):
                shutil.copy(log, Path(keep_logs) / log.name)
        for process in self.processes:
            stop(process)
        if self.redis:
            self.redis.cli("shutdown", "nosave")
        self.pg.stop()
        shutil.rmtree(self.work, ignore_errors=True)

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            **os.environ,
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": self.secret,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "MUSTERROLLE_SITE_URL": "http://127.0.0.1",
            "MUSTERROLLE_STATIC_ROOT": str(self.work / "static"),
            "DATABASE_URL": self.pg.url,
            "MAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "MAIL_OPTIONS": json.dumps({"file_path": str(self.mail)}),
            # Load tools come from one address; behind a real proxy this is its count.
            "MUSTERROLLE_TRUSTED_PROXIES": "1",
            "PYTHONUNBUFFERED": "1",
        }
        if self.redis:
            env["REDIS_URL"] = self.redis.url
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(extra)
        return env

    def manage(self, *args: str, **extra: str) -> str:
        out = subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=ROOT,
            env=self.env(**extra),
            capture_output=True,
            text=True,
        )
        if out.returncode:
            raise SystemExit(
                f"manage.py {' '.join(args)} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
            )
        return out.stdout

    def python(self, code: str, **extra: str) -> str:
        """Run Django code in a fresh process (with the drill's settings); returns its stdout."""
        script = (
            "import django, os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings')\ndjango.setup()\n"
            + code
        )
        out = subprocess.run(
            [PYTHON, "-c", script], cwd=ROOT, env=self.env(**extra), capture_output=True, text=True
        )
        if out.returncode:
            raise SystemExit(f"drill code failed:\n{out.stdout[-3000:]}\n{out.stderr[-5000:]}")
        return out.stdout

    def prepare(self) -> None:
        """Migrate and collect the static files, as a deployment does."""
        self.manage("migrate", "--noinput")
        self.manage("collectstatic", "--noinput")

    def _spawn(self, name: str, command: list[str], **extra: str) -> subprocess.Popen:
        log = open(self.work / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env(**extra),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process.name = name  # type: ignore[attr-defined]
        self.processes.append(process)
        return process

    def web(self, workers: int = 4, **extra: str) -> tuple[subprocess.Popen, str]:
        port = free_port()
        cert, key = self.certificate()
        process = self._spawn(
            f"web-{port}",
            [
                str(BIN / "gunicorn"),
                "config.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--timeout",
                "120",
                "--certfile",
                str(cert),
                "--keyfile",
                str(key),
            ],
            **extra,
        )
        url = f"https://127.0.0.1:{port}"
        wait_for(
            lambda: http_status(url + "/healthz?check=database") == 200, 60, f"gunicorn on {port}"
        )
        return process, url

    def worker(self, name: str = "w1", concurrency: int = 2, **extra: str) -> subprocess.Popen:
        process = self._spawn(
            f"worker-{name}",
            [
                str(BIN / "celery"),
                "-A",
                "config",
                "worker",
                "--hostname",
                f"{name}@%h",
                "--concurrency",
                str(concurrency),
                "--loglevel",
                "INFO",
                # As docker-compose.yml starts it: no pub/sub (see CELERY_WORKER_ENABLE_REMOTE_CONTROL).
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            **extra,
        )
        wait_for(lambda: "ready" in self.log(f"worker-{name}"), 60, f"worker {name}")
        return process

    def certificate(self) -> tuple[Path, Path]:
        cert, key = self.work / "cert.pem", self.work / "key.pem"
        if not cert.exists():
            subprocess.run(
                [
                    "openssl",
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=127.0.0.1",
                    "-keyout",
                    str(key),
                    "-out",
                    str(cert),
                ],
                check=True,
                capture_output=True,
            )
        return cert, key

    def beat(self, **extra: str) -> subprocess.Popen:
        return self._spawn(
            "beat",
            [
                str(BIN / "celery"),
                "-A",
                "config",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(self.work / "beat-schedule"),
            ],
            **extra,
        )

    def log(self, name: str) -> str:
        path = self.work / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_for(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except Exception:  # noqa: S110 - not there yet
            pass
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


def http_status(url: str) -> int:
    try:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # our own certificate
        with urllib.request.urlopen(url, timeout=5, context=context) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def totp(secret: str, at: float | None = None) -> str:
    """RFC 6238, as an authenticator app computes it: 6 digits, 30-second steps, SHA-1."""
    counter = int((at or time.time()) // 30)
    digest = hmac.new(base64.b32decode(secret), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"


def tls_session(session: Any) -> Any:
    """The drill's servers speak TLS with a throwaway certificate, as the proxy in front would:
    the app's cookies are `Secure` and are sent back only over HTTPS."""
    import urllib3

    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    session.verify = False
    session.trust_env = False  # a CA bundle named in the environment would override `verify`
    return session


def log_in(
    session: Any, base: str, email: str, secret: str, forwarded_for: str | None = None
) -> None:
    """The real login: e-mail and password, then the code from the authenticator app."""
    tls_session(session)
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    page = session.get(f"{base}/accounts/login/", headers=headers)
    token = _csrf(page.text)
    response = session.post(
        f"{base}/accounts/login/",
        headers={**headers, "Referer": f"{base}/accounts/login/"},
        data={"csrfmiddlewaretoken": token, "login": email, "password": PASSWORD},
    )
    if "/2fa/authenticate" not in response.url:
        raise RuntimeError(
            f"{email}: no second-factor step after the password ({response.status_code} {response.url})"
        )
    token = _csrf(response.text)
    response = session.post(
        response.url,
        headers={**headers, "Referer": response.url},
        data={"csrfmiddlewaretoken": token, "code": totp(secret)},
    )
    if response.status_code != 200 or "/accounts/" in response.url:
        raise RuntimeError(f"{email}: the code was refused ({response.status_code} {response.url})")


def _csrf(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    if not match:
        raise RuntimeError("no CSRF token on the page")
    return match.group(1)


def mails(folder: Path) -> collections.Counter:
    """Every message the mailer wrote, counted by subject and recipient."""
    seen: collections.Counter = collections.Counter()
    for path in folder.glob("*"):
        for message in path.read_text(errors="replace").split("\n" + "-" * 79 + "\n"):
            subject = re.search(r"^Subject: (.*)$", message, re.M)
            to = re.search(r"^To: (.*)$", message, re.M)
            if subject and to:
                seen[(subject.group(1).strip(), to.group(1).strip())] += 1
    return seen


def main_guard(run: Any) -> None:
    """Run a drill: its own failures exit 1 with the reason; the line is printed by the drill."""
    try:
        ok = run()
    except SystemExit:
        raise
    except Exception as error:  # the drill failed: say why, exit non-zero
        import traceback

        traceback.print_exc()
        print(f"drill failed: {error}", file=sys.stderr)
        raise SystemExit(1) from error
    raise SystemExit(0 if ok else 1)
