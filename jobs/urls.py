from django.urls import include, path
from rest_framework.routers import DefaultRouter

from .api.views import ArtifactViewSet, JobKindList, JobViewSet, WorkerList

router = DefaultRouter()
router.register("jobs", JobViewSet, basename="job")
router.register("artifacts", ArtifactViewSet, basename="artifact")

urlpatterns = [
    path("job-kinds/", JobKindList.as_view(), name="job-kinds"),
    path("workers/", WorkerList.as_view(), name="workers"),
    path("", include(router.urls)),
]
