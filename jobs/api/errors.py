"""Every error answer is JSON; request bodies over the limit are 413, never a 500; a service's refusal
(jobs/services.py) is answered with the status its STATUS table gives."""
from django.core.exceptions import RequestDataTooBig
from rest_framework import status
from rest_framework.exceptions import ParseError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .. import services
from ..admission import NotAdmitted
from .query import BadQuery


def exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig) or (isinstance(exc, ParseError) and isinstance(exc.__cause__, RequestDataTooBig)):
        return Response({"detail": "request body too large"}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, RecursionError):  # the JSON parser on a body nested thousands deep
        return Response({"detail": "JSON parse error - nested too deeply"}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, NotAdmitted):
        return Response(exc.answer, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, services.BadInput):
        return Response(exc.errors, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, services.ServiceError):
        return Response({"detail": str(exc)}, status=services.STATUS[type(exc)])
    if isinstance(exc, BadQuery):
        return Response(exc.as_dict(), status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)
