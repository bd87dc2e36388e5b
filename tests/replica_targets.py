"""Real replica targets on 127.0.0.1 for the replication tests: Debian's OpenSSH server with
a throwaway host key and user key, and moto's S3-compatible server. Each is started by the
test's :class:`~tests.processes.Processes` and so reaped however the test ends.

A missing program skips the test on a developer's machine and fails it under ``CI=true``
(``make test`` installs ``openssh-server`` through ``scripts/system-packages``)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import eventually, free_port
from tests.processes import Processes, descendants, end

SSHD = "/usr/sbin/sshd"


def need(what: str, present: bool) -> None:
    """Skip (or, under CI, fail) a test whose server program is missing."""
    if present:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is missing (CI installs it: scripts/system-packages)")
    pytest.skip(f"{what} is not installed (scripts/system-packages installs it)")


async def _ready(log: Path, marker: str, proc: asyncio.subprocess.Process, timeout: float) -> None:
    """Wait until the server's log (a file: it never fills a pipe) says it listens."""

    def ready() -> bool:
        if proc.returncode is not None:
            raise RuntimeError(f"server exited: {log.read_text(errors='replace')[-500:]}")
        return marker in log.read_text(errors="replace")

    await eventually(ready, timeout)


@dataclass
class SftpServer:
    port: int
    host_key: str  # "ssh-ed25519 AAAA…"
    user_key: Path
    root: Path  # the directory the replica goes to
    proc: asyncio.subprocess.Process
    config: Path

    async def stop(self) -> None:
        """The server goes away, with the connections it serves (sshd keeps a process per
        connection alive when its listener stops)."""
        for pid in descendants(self.proc.pid):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        await end(self.proc)  # SIGTERM: sshd started in the background ignores SIGINT

    def replica(self, **extra: Any) -> dict[str, Any]:
        """A ``[replica]`` section for this server."""
        return {
            "type": "sftp",
            "host": "127.0.0.1",
            "port": self.port,
            "user": _user(),
            "key_file": str(self.user_key),
            "host_key": self.host_key,
            "path": str(self.root),
            **extra,
        }


def _user() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


def _keygen(path: Path) -> str:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
        check=True,
    )
    return " ".join(path.with_suffix(".pub").read_text().split()[:2])


def _sshd_files(base: Path, port: int) -> tuple[Path, str, Path]:
    """sshd's config, its host key and this user's key (kept across restarts in ``base``)."""
    need("openssh-server (sshd)", Path(SSHD).exists() and shutil.which("ssh-keygen") is not None)
    base.mkdir(parents=True, exist_ok=True)
    host_key, user_key = base / "host_key", base / "user_key"
    if not host_key.exists():
        _keygen(host_key)
        _keygen(user_key)
    host_pub = " ".join(host_key.with_suffix(".pub").read_text().split()[:2])
    authorized = base / "authorized_keys"
    authorized.write_text(user_key.with_suffix(".pub").read_text())
    authorized.chmod(0o600)
    config = base / "sshd_config"
    config.write_text(
        f"ListenAddress 127.0.0.1\nPort {port}\nHostKey {host_key}\n"
        f"AuthorizedKeysFile {authorized}\nStrictModes no\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nUsePAM no\nPidFile none\n"
        "Subsystem sftp internal-sftp\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation directory (as root)
    (base / "remote").mkdir(exist_ok=True)
    return config, host_pub, user_key


async def start_sshd(procs: Processes, base: Path, port: int | None = None) -> SftpServer:
    """An OpenSSH server on 127.0.0.1 that lets this user in with a fresh key only (on
    ``port`` again: the same server back after it was stopped)."""
    port = port or free_port()
    config, host_pub, user_key = await asyncio.to_thread(_sshd_files, base, port)
    log = base / "sshd.log"
    with log.open("wb") as out:
        proc = await procs.start(SSHD, "-D", "-e", "-f", str(config), stderr=out)
    await _ready(log, "Server listening", proc, 15)
    return SftpServer(port, host_pub, user_key, base / "remote", proc, config)


@dataclass
class S3Server:
    endpoint: str
    bucket: str
    ca_file: Path | None = None  # https with a private CA: its certificate

    def replica(self, **extra: Any) -> dict[str, Any]:
        return {
            "type": "s3",
            "bucket": self.bucket,
            "path": "gate-01",
            "endpoint": self.endpoint,
            "region": "us-east-1",
            "force_path_style": True,
            **extra,
        }


def private_ca(base: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate it signed for 127.0.0.1 (as a plant's MinIO
    has): the CA's certificate, the server's certificate and its key, as PEM files."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "plant test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    base.mkdir(parents=True, exist_ok=True)
    paths = base / "ca.pem", base / "server.pem", base / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


async def start_moto(procs: Processes, base: Path, *, tls: bool = False) -> S3Server:
    """moto's S3-compatible server on 127.0.0.1, with one bucket; with ``tls``, over https with
    a certificate from a private CA (its PEM in ``S3Server.ca_file``)."""
    moto = Path(sys.executable).parent / "moto_server"
    need("moto[server]", moto.exists())
    port = free_port()
    log = base / "moto.log"
    argv = [str(moto), "-H", "127.0.0.1", "-p", str(port)]
    ca_file = None
    if tls:
        ca_file, cert, key = private_ca(base / "tls")
        argv += ["-c", str(cert), "-k", str(key)]
    with log.open("wb") as out:
        proc = await procs.start(*argv, stdout=out, stderr=out)
    await _ready(log, "Running on", proc, 60)
    import ssl

    import httpx

    endpoint = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    trust = ssl.create_default_context(cafile=ca_file) if ca_file else True
    async with httpx.AsyncClient(verify=trust) as http:
        (await http.put(f"{endpoint}/edge-gate")).raise_for_status()
    return S3Server(endpoint, "edge-gate", ca_file)
