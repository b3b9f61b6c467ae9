from django.urls import path

from .consumers import JobEventsConsumer, UserJobsConsumer

websocket_urlpatterns = [
    path("ws/jobs/", UserJobsConsumer.as_asgi()),
    path("ws/jobs/<str:job_id>/", JobEventsConsumer.as_asgi()),
]
