"""The object store's cost (jobs/objectstore.py, jobs/transfer.py), against moto's S3 server on loopback.

- upload / download throughput of an artifact through the lab's path (sha256, boto3's transfer with
  our part size, the size check; the download checked against the recorded sha256 and renamed into
  place) as a ratio to boto3's own `upload_file` / `download_file` of the same file, same process,
  same server, alternating runs, best of ROUNDS each. Goal >= 0.8x.
- the latency a job's dispatch gains when its input model is already in the node's cache:
  `transfer.input_folder` with the store, minus the same call with the filesystem (a process asked
  again: one stat), and its first call in a process (a worker child per job: one query). Goal < 5 ms.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from bench.common import BenchDatabase, django_setup, pct, save, table

SIZES_MB = (4, 64)
ROUNDS = 9
CALLS = 300


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def throughput(store, client, bucket, work: Path) -> list[dict]:
    from jobs.objectstore import sha256_of

    rows = []
    for mb in SIZES_MB:
        src = work / f"artifact-{mb}.bin"
        src.write_bytes(os.urandom(mb << 20))
        key = f"bench/{mb}.bin"
        ours_up, ref_up, ours_down, ref_down = [], [], [], []
        digest = sha256_of(src)[1]
        for i in range(ROUNDS):
            ups = [(ref_up, lambda: client.upload_file(str(src), bucket, store.key(key + ".ref"))),
                   (ours_up, lambda: store.upload(src, key))]
            downs = [(ref_down, lambda: client.download_file(bucket, store.key(key + ".ref"), str(work / "ref.out"))),
                     (ours_down, lambda: store.download(key, work / "ours.out", digest))]
            for times, fn in (ups + downs) if i % 2 else (ups[::-1] + downs[::-1]):  # neither always goes first
                times.append(timed(fn))
        assert (work / "ours.out").read_bytes() == src.read_bytes()
        for what, ours, ref in (("upload", ours_up, ref_up), ("download", ours_down, ref_down)):
            # the best of the rounds: on a shared 2-core box (moto's server among them) the median is the
            # neighbours' load as much as ours
            o, r = min(ours), min(ref)
            rows.append({"op": what, "size_mb": mb, "lab_mb_s": mb / o, "boto3_mb_s": mb / r, "ratio": r / o})
    return rows


def cached_input_latency(settings) -> dict:
    from django.contrib.auth import get_user_model

    from jobs.models import Artifact, Job
    from jobs import transfer
    from jobs.transfer import input_folder, job_prefix

    user = get_user_model().objects.create_user("bench", password="pw")
    job = Job.objects.create(owner=user, kind="train", status="succeeded")
    from jobs.objectstore import store

    rows = []
    for name, kind, data in (("model.safetensors", "model", os.urandom(1 << 20)), ("model.json", "config", b"{}")):
        rel = job_prefix(job.storage_key) + f"attempt-1/{name}"
        store().put_bytes(rel, data)
        import hashlib

        rows.append(Artifact.objects.create(job=job, name=name, kind=kind, file=rel, size=len(data),
                                            sha256=hashlib.sha256(data).hexdigest()))
    art = rows[0]
    input_folder(art)  # the first job on the node fetches it
    with_store = [timed(lambda: input_folder(art)) for _ in range(CALLS)]

    def fresh_process():  # a worker child that runs one job (--max-tasks-per-child 1): one query, then stats
        transfer._folders.clear()
        input_folder(art)

    first_in_process = [timed(fresh_process) for _ in range(CALLS)]
    url = settings.LAB_STORAGE_URL
    settings.LAB_STORAGE_URL = ""
    try:
        on_disk = [timed(lambda: input_folder(art)) for _ in range(CALLS)]
    finally:
        settings.LAB_STORAGE_URL = url
    added = [(a - b) * 1000 for a, b in zip(sorted(with_store), sorted(on_disk))]
    return {"calls": CALLS, "store_p50_ms": pct(with_store, 50) * 1000, "store_p99_ms": pct(with_store, 99) * 1000,
            "filesystem_p50_ms": pct(on_disk, 50) * 1000, "added_p50_ms": pct(added, 50),
            "added_p99_ms": pct(added, 99), "new_process_p50_ms": pct(first_in_process, 50) * 1000,
            "new_process_p99_ms": pct(first_in_process, 99) * 1000}


def main():
    from tests.s3server import S3Server

    server = S3Server()
    try:
        bucket = server.new_bucket()
        work = Path(tempfile.mkdtemp(prefix="lab-bench-storage-"))
        os.environ.update(server.env(bucket))
        os.environ["LAB_CACHE_DIR"] = str(work / "cache")
        django_setup()
        from django.conf import settings

        from jobs.objectstore import store

        with BenchDatabase():
            rows = throughput(store(), server.client(), bucket, work)
            print(table(rows, ["op", "size_mb", "lab_mb_s", "boto3_mb_s", "ratio"]))
            latency = cached_input_latency(settings)
            print(table([latency], list(latency)))
        ok = all(r["ratio"] >= 0.8 for r in rows) and latency["new_process_p50_ms"] < 5
        print("goals (>= 0.8x boto3, < 5 ms added for a cached input):", "met" if ok else "NOT met")
        save("storage", {"server": "moto (standalone, loopback)", "rounds": ROUNDS, "statistic": "best of rounds", "throughput": rows,
                         "cached_input": latency, "goals_met": ok})
    finally:
        server.stop()


if __name__ == "__main__":
    main()
