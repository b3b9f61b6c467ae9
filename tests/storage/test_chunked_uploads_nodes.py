"""Chunked (tus) uploads across two web nodes that share no disk, only PostgreSQL, Redis and the object store
(jobs/chunkstore.py): each web server process has a MEDIA_ROOT of its own. Chunks sent to the two in turn, and
the upload finished on the second, make the artifact of the original bytes; an upload cut mid-chunk on one node
goes on, from the offset the database holds, on the other, and is finished there. PATCHes and finishes sent to
both nodes at once are taken one at a time; a chunk the store lost is a 400, never an artifact with a hole."""
import base64
import hashlib
import os
import tempfile
from pathlib import Path

import httpx
import pytest

from labclient import Lab
from tests.client.cutting_proxy import CuttingProxy
from tests.procs import start_web, stop

pytestmark = pytest.mark.timeout(300)
TUS = {"Tus-Resumable": "1.0.0"}
CHUNK = 256 * 1024  # several chunks, and under LAB_MAX_BODY_BYTES of the POST that finishes


@pytest.fixture(scope="module")
def second_web(nodes):
    """A second web server process on the lab, with a MEDIA_ROOT of its own: the other node behind a balancer."""
    media = Path(tempfile.mkdtemp(prefix="lab-web-b-"))
    proc, out, url = start_web(extra_env={**nodes.env, "LAB_MEDIA_ROOT": str(media)})
    yield url, media
    print("\n--- web b output (tail) ---\n" + out.tail(30))
    stop(proc)


@pytest.fixture(scope="module")
def cut_off_web(nodes):
    """A web node that cannot reach the object store (its endpoint a port nobody listens on; botocore tries once)."""
    from tests.reliability.servers import free_port

    media = Path(tempfile.mkdtemp(prefix="lab-web-c-"))
    proc, out, url = start_web(extra_env={**nodes.env, "LAB_MEDIA_ROOT": str(media), "AWS_MAX_ATTEMPTS": "1",
                                          "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"})
    yield url
    print("\n--- web c output (tail) ---\n" + out.tail(30))
    stop(proc)


@pytest.fixture(scope="module")
def web_with_store_outage(nodes):
    """A web node whose first connection to the store is dropped (tests/storage/store_outage.py); (url, outage)."""
    from tests.storage.store_outage import StoreOutage

    outage = StoreOutage(nodes.env["AWS_ENDPOINT_URL"])
    media = Path(tempfile.mkdtemp(prefix="lab-web-d-"))
    proc, out, url = start_web(extra_env={**nodes.env, "LAB_MEDIA_ROOT": str(media), "AWS_MAX_ATTEMPTS": "1",
                                          "AWS_ENDPOINT_URL": outage.url})
    yield url, outage
    print("\n--- web d output (tail) ---\n" + out.tail(30))
    stop(proc)
    outage.close()


def http(url, lab, user="alice") -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Token {lab.tokens[user]}"}, timeout=60)


def corpus(lines: int) -> bytes:
    return "".join(f"line {i}: the quick brown fox jumps over the lazy dog\n" for i in range(lines)).encode()


def create(client, text: bytes) -> tuple[str, str]:
    """(Location, guid) of a new upload of `text` as corpus.txt."""
    meta = "filename " + base64.b64encode(b"corpus.txt").decode()
    r = client.post("/api/uploads/", headers={**TUS, "Upload-Length": str(len(text)), "Upload-Metadata": meta})
    assert r.status_code == 201, r.text
    return r.headers["Location"], r.headers["Location"].rstrip("/").rsplit("/", 1)[1]


def patch(client, location: str, text: bytes, offset: int, size: int = CHUNK) -> httpx.Response:
    return client.patch(location, content=text[offset:offset + size], headers={
        **TUS, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"})


def send_rest(client, location: str, text: bytes, offset: int) -> None:
    while offset < len(text):
        r = patch(client, location, text, offset)
        assert r.status_code == 204, r.text
        offset = int(r.headers["Upload-Offset"])


def finish(client, guid: str) -> httpx.Response:
    return client.post("/api/artifacts/", json={"upload": guid, "kind": "dataset", "format": "text"})


def stored_chunks(lab, guid) -> list[tuple[str, int]]:
    page = lab.s3.list_objects_v2(Bucket=lab.bucket, Prefix=f"lab/uploads/{guid}/")
    return [(o["Key"].rsplit("/", 1)[1], o["Size"]) for o in page.get("Contents", [])]


@pytest.fixture
def disk_of(nodes, second_web):
    """`disk_of(media)`: from then on only the node of that MEDIA_ROOT finds its uploads/ folder. On one host a web
    process could still open the other's files by the absolute path the database holds; on two hosts it cannot.
    Each node's folder is back in place after the test."""
    every = [nodes.media, second_web[1]]

    def only(media):
        for m in every:
            if m != media and (m / "uploads").exists():
                os.replace(m / "uploads", m / "uploads.elsewhere")
        if (media / "uploads.elsewhere").exists():
            os.replace(media / "uploads.elsewhere", media / "uploads")

    yield only
    for m in every:
        if (m / "uploads.elsewhere").exists():
            os.replace(m / "uploads.elsewhere", m / "uploads")


def files_in(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_chunks_sent_to_two_web_nodes_in_turn_make_the_artifact_of_the_original_bytes(nodes, second_web, disk_of):
    lab, (url_b, media_b) = nodes, second_web
    text = corpus(30_000)  # ~1.6 MB: 7 chunks, the last a short one
    assert len(text) % CHUNK
    with http(lab.url, lab) as a, http(url_b, lab) as b:
        location, guid = create(a, text)
        offset, turn = 0, 0
        while offset < len(text):
            node, own = (a, lab.media) if turn % 2 == 0 else (b, media_b)
            disk_of(own)
            assert int(node.head(location, headers=TUS).headers["Upload-Offset"]) == offset
            r = patch(node, location, text, offset)
            assert r.status_code == 204, (turn, r.text)
            offset, turn = int(r.headers["Upload-Offset"]), turn + 1
        assert offset == len(text) and turn == -(-len(text) // CHUNK)
        # one object per PATCH, named by the offset it starts at, whichever node took it
        starts = range(0, len(text), CHUNK)
        assert stored_chunks(lab, guid) == [(f"{o:020d}", min(CHUNK, len(text) - o)) for o in starts]

        disk_of(media_b)
        r = finish(b, guid)
        assert r.status_code == 201, r.text
        art = r.json()
        assert (art["name"], art["size"], art["status"]) == ("corpus.txt", len(text), "succeeded")
        assert art["sha256"] == hashlib.sha256(text).hexdigest()
        downloaded = a.get(art["url"]).content  # from the store, through the node that did not finish it
        assert hashlib.sha256(downloaded).hexdigest() == hashlib.sha256(text).hexdigest()
        assert b.head(location, headers=TUS).status_code == 404  # spent
    disk_of(lab.media)
    assert stored_chunks(lab, guid) == []
    # neither node keeps anything of the upload: the chunks went through the store only
    assert files_in(lab.media / "uploads") == [] and files_in(media_b / "uploads") == []
    assert not (lab.media / "jobs").exists() and not (media_b / "jobs").exists()


def test_an_upload_cut_mid_chunk_on_one_node_resumes_and_finishes_on_the_other(nodes, second_web, disk_of,
                                                                                tmp_path):
    lab, (url_b, media_b) = nodes, second_web
    path = tmp_path / "corpus.txt"
    path.write_bytes(corpus(50_000))  # ~2.6 MB: chunks of LAB_UPLOAD_CHUNK_BYTES (1 MiB in tests), 3 of them
    # the balancer sends everything to node a until a's connection is cut mid second chunk, then all to node b:
    # creation and the first chunk on a, the rest of the file and the finish on b; a's disk is gone with it
    proxy = CuttingProxy(lab.url, cut_after=1_500_000, then_url=url_b, on_cut=lambda: disk_of(media_b))
    try:
        art = Lab(proxy.url, lab.tokens["alice"]).upload(path, "dataset", "text")
    finally:
        proxy.close()
    assert proxy.cut.is_set()
    assert art["status"] == "succeeded" and art["size"] == path.stat().st_size
    assert art["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    with http(lab.url, lab) as a:
        assert hashlib.sha256(a.get(art["url"]).content).hexdigest() == art["sha256"]


def lock_waiters(lab) -> int:
    import psycopg

    with psycopg.connect(lab.pg.url, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = 'lab' AND wait_event_type = 'Lock'"
                            ).fetchone()[0]


def artifacts_in_db(lab) -> int:
    import psycopg

    with psycopg.connect(lab.pg.url, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM jobs_artifact").fetchone()[0]


def wait_for_lock_waiters(lab, n: int, timeout: float = 30.0) -> None:
    """Until `n` requests wait on a row lock (polled: PostgreSQL sends no event for it)."""
    import time

    deadline = time.monotonic() + timeout
    while lock_waiters(lab) < n:
        assert time.monotonic() < deadline, f"fewer than {n} requests wait on the upload's row after {timeout} s"
        time.sleep(0.05)


def test_two_patches_from_one_offset_on_two_nodes_go_one_after_the_other(nodes, second_web):
    """Each PATCH holds the upload's row while it writes: with the row held here, one PATCH on each node waits, and
    once it is let go the first writes its chunk and the second, its offset no longer the row's, is a 409."""
    from concurrent.futures import ThreadPoolExecutor

    import psycopg

    lab, (url_b, _media_b) = nodes, second_web
    text = corpus(15_000)  # ~0.8 MB: 4 chunks
    with http(lab.url, lab) as a, http(url_b, lab) as b, ThreadPoolExecutor(2) as pool:
        location, guid = create(a, text)
        with psycopg.connect(lab.pg.url) as held:
            held.execute("SELECT 1 FROM jobs_chunkedupload WHERE guid = %s FOR UPDATE", [guid])
            first = pool.submit(patch, a, location, text, 0)
            wait_for_lock_waiters(lab, 1)
            # another size: both written, the row's offset and the stored chunk could be of different PATCHes
            second = pool.submit(patch, b, location, text, 0, 2 * CHUNK)
            wait_for_lock_waiters(lab, 2)
            held.commit()
            answers = first.result(), second.result()
        assert [r.status_code for r in answers] == [204, 409], [r.text for r in answers]
        assert int(answers[0].headers["Upload-Offset"]) == CHUNK
        assert stored_chunks(lab, guid) == [(f"{0:020d}", CHUNK)]
        send_rest(b, location, text, CHUNK)
        r = finish(a, guid)
        assert r.status_code == 201, r.text
        assert r.json()["sha256"] == hashlib.sha256(text).hexdigest()


def test_a_complete_upload_finished_on_two_nodes_at_once_is_one_artifact(nodes, second_web):
    """A client that sends its finish again elsewhere (its first answer slow to come) gets one artifact: the
    second request, let go once the first has claimed the upload, is a 400 naming `upload`."""
    from concurrent.futures import ThreadPoolExecutor

    import psycopg

    lab, (url_b, _media_b) = nodes, second_web
    text = corpus(8_000)
    with http(lab.url, lab) as a, http(url_b, lab) as b, ThreadPoolExecutor(2) as pool:
        location, guid = create(a, text)
        send_rest(b, location, text, 0)
        before = artifacts_in_db(lab)
        with psycopg.connect(lab.pg.url) as held:
            held.execute("SELECT 1 FROM jobs_chunkedupload WHERE guid = %s FOR UPDATE", [guid])
            first = pool.submit(finish, a, guid)
            wait_for_lock_waiters(lab, 1)
            second = pool.submit(finish, b, guid)
            wait_for_lock_waiters(lab, 2)
            held.commit()
            answers = first.result(), second.result()
        assert [r.status_code for r in answers] == [201, 400], [r.text for r in answers]
        assert "already being made an artifact" in answers[1].json()["upload"][0]
        assert answers[0].json()["sha256"] == hashlib.sha256(text).hexdigest()
    assert artifacts_in_db(lab) == before + 1
    assert stored_chunks(lab, guid) == []


def test_an_upload_whose_chunk_the_store_lost_is_a_400_naming_the_offset(nodes, second_web):
    """The row says complete, the store lacks a chunk (removed by hand, a lifecycle rule): the finish says from which
    offset, and the upload goes (the client sends the file again) rather than becoming an artifact with a hole."""
    lab, (url_b, media_b) = nodes, second_web
    text = corpus(10_000)  # ~0.5 MB: 2 chunks
    with http(lab.url, lab) as a, http(url_b, lab) as b:
        location, guid = create(a, text)
        send_rest(a, location, text, 0)
        lab.s3.delete_object(Bucket=lab.bucket, Key=f"lab/uploads/{guid}/{CHUNK:020d}")
        before = artifacts_in_db(lab)
        r = finish(b, guid)
        assert r.status_code == 400, r.text
        assert f"the object store holds no chunk from offset {CHUNK} of {len(text)}" in r.json()["upload"][0]
        assert b.head(location, headers=TUS).status_code == 404
    assert artifacts_in_db(lab) == before and stored_chunks(lab, guid) == []
    assert files_in(media_b / "uploads") == []  # the half-assembled file went too


def test_a_chunk_the_store_fails_is_a_503_and_the_upload_goes_on_elsewhere(nodes, cut_off_web):
    """drf-tus deletes an upload whose write fails: a node cut off from the store must not cost the chunks already
    stored. Its PATCH is a 503 saying so, the offset stays, and the next node takes the chunk; its finish is a 503
    too, and the upload is finished on the next node."""
    lab = nodes
    text = corpus(10_000)  # ~0.5 MB: 2 chunks
    with http(lab.url, lab) as a, http(cut_off_web, lab) as c:
        location, guid = create(a, text)
        assert patch(a, location, text, 0).status_code == 204
        r = patch(c, location, text, CHUNK)
        assert r.status_code == 503 and r.headers["Retry-After"] == "1", r.text
        assert f"the upload holds {CHUNK} bytes" in r.json()["detail"] and "object store" in r.json()["detail"]
        assert int(a.head(location, headers=TUS).headers["Upload-Offset"]) == CHUNK
        send_rest(a, location, text, CHUNK)
        r = finish(c, guid)  # it cannot read the chunks: the upload stays, to be finished elsewhere
        assert r.status_code == 503 and "the upload is kept, send this request again" in r.json()["detail"], r.text
        r = finish(a, guid)
        assert r.status_code == 201, r.text
        assert r.json()["sha256"] == hashlib.sha256(text).hexdigest()

        # an upload deleted (tus termination) on that node is gone, its chunks left for the collector (storegc)
        location, guid = create(a, text)
        assert patch(a, location, text, 0).status_code == 204
        assert c.delete(location, headers=TUS).status_code == 204
        assert a.head(location, headers=TUS).status_code == 404
        assert stored_chunks(lab, guid) == [(f"{0:020d}", CHUNK)]


def test_lab_upload_sends_a_chunk_again_after_a_503_of_a_store_gone_for_a_moment(nodes, web_with_store_outage,
                                                                                tmp_path):
    lab, (url, outage) = nodes, web_with_store_outage
    path = tmp_path / "corpus.txt"
    path.write_bytes(corpus(30_000))  # ~1.6 MB: 2 chunks of 1 MiB
    art = Lab(url, lab.tokens["alice"]).upload(path, "dataset", "text")
    assert outage.dropped == 1  # the first chunk's put found no store: a 503, then the chunk again
    assert art["status"] == "succeeded" and art["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
