"""The upload endpoints: POST /api/artifacts/ (jobs/uploads.py) and the tus server at /api/uploads/
(jobs/chunked.py)."""
from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.urls import reverse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework_tus import constants as tus
from rest_framework_tus.views import UploadMetadata, UploadViewSet

from .. import uploads
from ..chunked import ChunkedUpload, RequestBody, remove_expired, remove_stale_scratch
from ..services import BadInput
from .serializers import ArtifactSerializer

log = logging.getLogger(__name__)

UploadRequest = inline_serializer("ArtifactUpload", fields={
    "file": serializers.FileField(required=False, help_text="the file (a zip of a model's folder); or `upload`"),
    "upload": serializers.UUIDField(required=False, help_text="a complete tus upload (POST /api/uploads/), for "
                                                              "files larger than one request"),
    "kind": serializers.ChoiceField(["model", "dataset"]),
    "format": serializers.ChoiceField(["diffusers", "transformers", "lab", "npy", "text", "fasta", "csv"]),
    "project": serializers.IntegerField(required=False),
})


def upload_answer(art, job) -> dict:
    """The artifact, with its format and the state of its validation (`status` of job `job`)."""
    return {**ArtifactSerializer(art).data, "format": job.params["format"], "status": job.status,
            "error": job.error, "result": job.result}


def _text(value) -> str | None:
    """A form field as text (JSON may send anything: a list is no kind)."""
    return value if isinstance(value, str) else (None if value is None else repr(value)[:100])


def _project(value):
    """A project id in range of the column, or the value as given (refused by name later)."""
    if value in (None, ""):
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63:
        return value
    raise BadInput({"project": [f"{str(value)[:50]!r} is not a project id"]})


class ArtifactUploadMixin:
    """`create` of the artifacts viewset."""

    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(request={"multipart/form-data": UploadRequest, "application/json": UploadRequest},
                   responses={201: ArtifactSerializer})
    def create(self, request, *args, **kwargs):
        data = request.data
        kind, fmt, project = _text(data.get("kind")), _text(data.get("format")), _project(data.get("project"))
        file, guid = request.FILES.get("file"), _text(data.get("upload"))
        if file is None and not guid:
            raise BadInput({"file": ["give the file (multipart `file`), or `upload`: the id of a complete chunked "
                                     "upload (POST /api/uploads/)"]})
        if file is not None:
            art, job = uploads.create_from_request_file(request.user, file, kind, fmt, project)
        else:
            art, job = uploads.create_from_chunked(request.user, guid, kind, fmt, project)
        return Response(upload_answer(art, job), status=status.HTTP_201_CREATED)


class ChunkedUploadSerializer(serializers.ModelSerializer):
    class Meta:
        model = ChunkedUpload
        exclude = ["owner"]


class ChunkedUploadMetadata(UploadMetadata):
    """OPTIONS /api/uploads/: tus's own fields, and the largest chunk a PATCH may carry (tus has no field for it;
    a client sizes its chunks by it)."""

    def determine_metadata(self, request, view):
        return {**super().determine_metadata(request, view), "Lab-Max-Chunk-Size": settings.LAB_UPLOAD_CHUNK_BYTES}


def chunk_refusal(request, upload: ChunkedUpload) -> Response | None:
    """Why this PATCH's body may not be written, before a byte of it is read: its size is unknown, over
    LAB_UPLOAD_CHUNK_BYTES (webapp/bodycap.py refuses it earlier behind the real server), or past the upload's
    declared Upload-Length. An offset that is not the server's is drf-tus's 409, left to it."""
    if getattr(request, tus.UPLOAD_OFFSET_NAME, None) != upload.upload_offset:
        return None
    try:
        length = int(request.META.get("CONTENT_LENGTH") or "")
    except ValueError:
        return Response({"detail": "a tus PATCH needs a Content-Length: the size of its chunk"},
                        status=status.HTTP_411_LENGTH_REQUIRED)
    cap = settings.LAB_UPLOAD_CHUNK_BYTES
    if length > cap:
        return Response({"detail": f"request body too large: a tus chunk is at most LAB_UPLOAD_CHUNK_BYTES ({cap}) "
                                   "bytes; send smaller chunks"}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    total = upload.upload_length if upload.upload_length >= 0 else settings.LAB_UPLOAD_MAX_BYTES
    if upload.upload_offset + length > total:
        declared = "Upload-Length" if upload.upload_length >= 0 else "LAB_UPLOAD_MAX_BYTES"
        return Response({"detail": f"this chunk of {length} bytes from offset {upload.upload_offset} would pass the "
                                   f"{declared} of {total} bytes: send at most {total - upload.upload_offset}"},
                        status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    return None


@extend_schema(exclude=True)  # the tus protocol's own headers, not a JSON API: see docs/uploads.md
class ChunkedUploadViewSet(UploadViewSet):
    serializer_class = ChunkedUploadSerializer
    metadata_class = ChunkedUploadMetadata
    # chunks of LAB_UPLOAD_CHUNK_BYTES: a rate of its own, not the API's per-user one
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "upload_chunks"
    max_file_size = property(lambda self: settings.LAB_UPLOAD_MAX_BYTES)

    def get_queryset(self):
        rows = ChunkedUpload.objects.filter(owner=self.request.user)
        # a PATCH holds its upload's row until the chunk is written and the offset moved (partial_update): two
        # PATCHes of one upload, on two web nodes say, go one after the other, and the second is then a 409
        # (its offset is no longer the row's) instead of writing over the first's bytes
        return rows.select_for_update() if self.request.method == "PATCH" else rows

    def create(self, request, *args, **kwargs):
        remove_expired()
        remove_stale_scratch()
        # bytes promised by this user's unfinished uploads: what a client could make the web node's disk hold
        pending = (ChunkedUpload.objects.filter(owner=request.user).aggregate(n=Sum("upload_length"))["n"] or 0)
        length = getattr(request, "tus_upload_length", 0) or 0
        if pending + max(length, 0) > settings.LAB_UPLOAD_PROJECT_MAX_BYTES:
            return Response(f"your unfinished uploads already hold {pending} bytes; with {length} more they would "
                            f"pass LAB_UPLOAD_PROJECT_MAX_BYTES ({settings.LAB_UPLOAD_PROJECT_MAX_BYTES}): finish "
                            "or delete them first", status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        return super().create(request, *args, **kwargs)

    @transaction.atomic
    def partial_update(self, request, *args, **kwargs):
        if hasattr(request, tus.TUS_RESUMABLE_FIELD_NAME) and self._is_valid_content_type(request):
            refused = chunk_refusal(request, self.get_object())
            if refused is not None:
                return refused
        answer = super().partial_update(request, *args, **kwargs)
        failed = getattr(getattr(self, "upload", None), "store_failure", None)
        if failed is not None:  # the offset did not move: the client sends the chunk again, here or elsewhere
            # the store's own words name its endpoint and bucket: the log has them, the client its kind
            log.warning("tus upload %s: the object store did not take the chunk at %d: %s", self.upload.guid,
                        self.upload.upload_offset, failed)
            return Response({"detail": f"the object store did not take this chunk ({type(failed).__name__}); the "
                                       f"upload holds {self.upload.upload_offset} bytes: send it again from there"},
                            status=status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": "1"})
        return answer

    def get_object(self):
        self.upload = super().get_object()  # the row drf-tus writes through, for partial_update to read after
        return self.upload

    def get_chunk(self, request):
        # drf-tus reads request.body: the whole chunk in memory, and Django's LAB_MAX_BODY_BYTES check. The body
        # streams to the partial file (or the store's object) instead (ChunkedUpload.write_data); a checksum (tus
        # `checksum` extension) is computed on the bytes, so then the chunk, bounded by chunk_refusal, is read whole
        length = int(request.META["CONTENT_LENGTH"])
        if getattr(request, tus.UPLOAD_CHECKSUM_FIELD_NAME, None) is not None:
            return request.read(length)
        return RequestBody(request, length) if length else b""

    def get_success_headers(self, data):
        return {"Location": reverse("chunked-upload-detail", kwargs={"guid": data["guid"]})}

    def perform_create(self, serializer):
        serializer.save(owner=self.request.user)
