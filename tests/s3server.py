"""A real S3 endpoint for tests and benchmarks: moto's standalone server (`moto[server]`, an S3 that
speaks the wire protocol over HTTP, in its own process), on a free port, with a bucket per run.

`python -m tests.s3server -- CMD...` runs CMD with the lab's storage on a fresh bucket there
(`LAB_TEST_STORAGE=s3 make test` does so for the suite).
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid

# moto checks nothing; any non-empty pair signs the requests
KEYS = {"AWS_ACCESS_KEY_ID": "lab-test", "AWS_SECRET_ACCESS_KEY": "lab-test-secret", "AWS_DEFAULT_REGION": "us-east-1"}


class S3Server:
    def __init__(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        from tests.procs import OutputWatcher

        OutputWatcher(self.proc, "moto s3").wait_for("Running on", timeout=60)

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=KEYS["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=KEYS["AWS_SECRET_ACCESS_KEY"],
                            region_name=KEYS["AWS_DEFAULT_REGION"])

    def new_bucket(self) -> str:
        name = f"lab-test-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def env(self, bucket: str, prefix: str = "lab") -> dict:
        """What a lab process needs to keep its files in `bucket` (boto3's own variables)."""
        return {**KEYS, "AWS_ENDPOINT_URL": self.endpoint, "LAB_STORAGE_URL": f"s3://{bucket}/{prefix}"}

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--"]:
        argv = argv[1:]
    server = S3Server()
    try:
        env = {**os.environ, **server.env(server.new_bucket())}
        return subprocess.call(argv, env=env)
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
