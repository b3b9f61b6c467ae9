"""drf-tus's middleware, which reads the tus headers (Upload-Length, Upload-Offset, Upload-Metadata, ...) into
request attributes, on /api/uploads/ only, and with a malformed header answered 400 (its own parsing raises
on one, a 500)."""
from __future__ import annotations

import binascii

from django.http import JsonResponse
from rest_framework_tus.middleware import TusMiddleware

PREFIX = "/api/uploads/"


class TusHeaders(TusMiddleware):
    def __call__(self, request):
        if not request.path.startswith(PREFIX):
            return self.get_response(request)
        return super().__call__(request)

    def process_request(self, request):
        try:
            return super().process_request(request)
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            return JsonResponse({"detail": f"malformed tus header ({exc}): see https://tus.io/protocols/"
                                           "resumable-upload"}, status=400)
