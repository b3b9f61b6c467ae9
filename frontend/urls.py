from django.urls import path

from . import views

app_name = "frontend"

urlpatterns = [
    path("", views.jobs_list, name="jobs"),
    path("jobs/new/", views.job_new, name="job-new"),
    path("jobs/<int:pk>/", views.job_detail, name="job"),
    path("compare/", views.compare, name="compare"),
    path("workers/", views.workers, name="workers"),
    path("settings/tokens/", views.tokens, name="tokens"),
    path("users/", views.users, name="users"),
    path("vendor/uplot/<str:name>", views.vendor_uplot, name="vendor-uplot"),
]
