from django.urls import path

from .consumers import JobEventsConsumer, UserJobsConsumer
from .sweeps.consumers import SweepConsumer

websocket_urlpatterns = [
    path("ws/jobs/", UserJobsConsumer.as_asgi()),
    path("ws/jobs/<str:job_id>/", JobEventsConsumer.as_asgi()),
    path("ws/sweeps/<str:sweep_id>/", SweepConsumer.as_asgi()),
]
