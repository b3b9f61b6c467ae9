"""`LAB_STORAGE_URL` as Django's default storage (read by the settings: imports nothing of Django's apps)."""
from __future__ import annotations

from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured


def parse_storage_url(url: str) -> tuple[str, str]:
    """(bucket, prefix) of `s3://<bucket>[/<prefix>]`; anything else is refused with the reason."""
    parts = urlparse(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ImproperlyConfigured(f"LAB_STORAGE_URL={url!r}: expected s3://<bucket>[/<prefix>]")
    return parts.netloc, parts.path.strip("/")


def s3_storage(url: str, url_seconds: int, region: str) -> dict:
    """django-storages' S3 backend on that bucket. Endpoint and keys are left to boto3, which reads
    AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or an instance role) itself."""
    bucket, prefix = parse_storage_url(url)
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
        "bucket_name": bucket, "location": prefix, "region_name": region,
        # an artifact's key is unique per attempt (jobs/transfer.py): a retry overwrites its own object
        "file_overwrite": True, "default_acl": None, "querystring_auth": True,
        "querystring_expire": url_seconds, "signature_version": "s3v4",
        # MinIO and moto answer on one host name: virtual-hosted buckets need DNS of their own
        "addressing_style": "path",
    }}
