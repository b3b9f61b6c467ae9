from django.urls import include, path
from rest_framework.routers import DefaultRouter
from rest_framework_tus.routers import TusAPIRouter

from .api.projects import MemberDetail, MemberList, ProjectDetailView, ProjectList
from .api.audit import ProjectAuditList
from .api.queue import QueueView
from .api.tokens import TokenViewSet
from .api.uploads import ChunkedUploadViewSet
from .api.users import UserViewSet
from .api.views import ArtifactViewSet, JobKindList, JobViewSet, WorkerList
from .sweeps.api import SweepViewSet

router = DefaultRouter()
router.register("jobs", JobViewSet, basename="job")
router.register("artifacts", ArtifactViewSet, basename="artifact")
router.register("tokens", TokenViewSet, basename="token")
router.register("users", UserViewSet, basename="user")
router.register("sweeps", SweepViewSet, basename="sweep")
# tus 1.0 (POST, HEAD, PATCH, DELETE with its Upload-* headers): its own router, as drf-tus routes it
tus_router = TusAPIRouter()
tus_router.register("uploads", ChunkedUploadViewSet, basename="chunked-upload")

urlpatterns = [
    path("job-kinds/", JobKindList.as_view(), name="job-kinds"),
    path("workers/", WorkerList.as_view(), name="workers"),
    path("queue/", QueueView.as_view(), name="queue"),
    path("projects/", ProjectList.as_view(), name="projects"),
    path("projects/<str:pk>/", ProjectDetailView.as_view(), name="project"),
    path("projects/<str:pk>/members/", MemberList.as_view(), name="project-members"),
    path("projects/<str:pk>/members/<str:username>/", MemberDetail.as_view(), name="project-member"),
    path("projects/<str:id>/audit/", ProjectAuditList.as_view(), name="project-audit"),
    path("", include(tus_router.urls)),
    path("", include(router.urls)),
]
