"""A real S3-compatible server on 127.0.0.1 for the staging tests: moto in server mode.

Started as a subprocess (`python -m moto.server`) on a free loopback port; the AWS_*
variables point boto (and so s3fs) at it with dummy credentials. Nothing leaves the machine.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

BUCKET = "lintseq-test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def moto_server() -> Iterator[dict[str, str]]:
    """Run the server, set the AWS_* variables, create BUCKET; yields the variables."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
    }
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    import fsspec

    s3_class = fsspec.get_filesystem_class("s3")
    s3_class.clear_instance_cache()  # a cached filesystem would still point at an earlier server's port
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.2)
        fsspec.filesystem("s3", skip_instance_cache=True).mkdir(BUCKET)
        yield env
    finally:
        process.kill()
        process.wait()
        s3_class.clear_instance_cache()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
