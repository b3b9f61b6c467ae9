"""A tus upload's bytes in the object store (LAB_STORAGE_URL set), so that any web node can take its next PATCH
or finish it: web nodes then share no disk, only PostgreSQL (the offset, drf-tus's row) and the bucket.

Each PATCH's bytes are one object, `uploads/<guid>/<offset, 20 digits>`: the key sorts as the offset and names
where the chunk starts. Not one S3 multipart upload per tus upload: every part but the last must be at least
5 MiB, and a tus client picks its own chunk size (tus-js-client's is whatever the page asks, a PATCH may carry
fewer bytes than its Content-Length, the last chunk of an interrupted one is any size), so a small part would
only be refused when the upload is completed, too late to say so to the client. An object per chunk has no
such floor, and S3's 10,000-part ceiling does not apply either.

Writes of one upload are serialized by the row lock the PATCH holds (jobs/api/uploads.py), so an object is only
ever put at the offset the row holds; a put whose row update never committed (the node died between the two)
is overwritten by the next PATCH at that same offset. Finishing walks the chain from offset 0 by each object's
size, so such a leftover can never be read as part of the file.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from .objectstore import MB, store

KEY_DIGITS = 20  # any 64-bit offset


class ChunksMissing(ValueError):
    """The store does not hold every byte the row says was received."""


def prefix(guid) -> str:
    return f"uploads/{guid}/"


def chunk_key(guid, offset: int) -> str:
    return f"{prefix(guid)}{offset:0{KEY_DIGITS}d}"


def put_chunk(guid, offset: int, data, scratch: Path | None = None) -> int:
    """Store one PATCH's bytes (`bytes`, or a RequestBody not yet read) as the object at `offset`; returns how
    many. A RequestBody is copied first to a file in `scratch` (the node's own folder, removed at once) and
    uploaded from it: boto3 then reads the file part by part, where from a stream it would buffer parts of
    16 MiB in memory, several at a time."""
    bucket = store()
    if isinstance(data, (bytes, bytearray)):
        bucket.put_bytes(chunk_key(guid, offset), bytes(data))
        return len(data)
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=scratch, prefix=f".chunk-{guid}-") as f:
        written = data.copy_to(f)
        f.flush()
        if written:
            bucket.put_file(Path(f.name), chunk_key(guid, offset))
    return written


def chunks(guid, length: int) -> list[tuple[str, int]]:
    """(key, size) of the objects that make bytes 0..length, in order. ChunksMissing naming the first offset no
    object starts at (the upload is not complete in the store)."""
    sizes = {}
    for e in store().list(prefix(guid)):
        name = e.rel.rsplit("/", 1)[1]
        if name.isdigit():
            sizes[int(name)] = e.size
    out, offset = [], 0
    while offset < length:
        size = sizes.get(offset)
        if not size:
            raise ChunksMissing(f"the object store holds no chunk from offset {offset} of {length}")
        out.append((chunk_key(guid, offset), size))
        offset += size
    if offset != length:
        raise ChunksMissing(f"the chunks in the object store add up to {offset} bytes, not {length}")
    return out


def assemble(guid, length: int, dest) -> None:
    """Write the upload's bytes into the open file `dest`, chunk after chunk, in pieces of 1 MiB: the whole file
    is never in memory. The validation reads it as a file (an archive's central directory is at its end)."""
    bucket = store()
    for key, size in chunks(guid, length):
        try:
            body, got = bucket.open(key)
        except FileNotFoundError as exc:  # removed since it was listed
            raise ChunksMissing(f"chunk {key} went while the upload was being finished") from exc
        if got != size:
            raise ChunksMissing(f"chunk {key} changed while the upload was being finished")
        for piece in body.iter_chunks(MB):
            dest.write(piece)
    dest.flush()


def held(guid) -> int:
    return sum(e.size for e in store().list(prefix(guid)))


def remove(guid) -> int:
    return store().delete_prefix(prefix(guid))
