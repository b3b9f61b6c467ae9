from django.urls import path

from . import projects, sweeps, views

app_name = "frontend"

urlpatterns = [
    path("", views.jobs_list, name="jobs"),
    path("jobs/new/", views.job_new, name="job-new"),
    path("jobs/<int:pk>/", views.job_detail, name="job"),
    path("compare/", views.compare, name="compare"),
    path("sweeps/", sweeps.sweeps_list, name="sweeps"),
    path("sweeps/<int:pk>/", sweeps.sweep_detail, name="sweep"),
    path("workers/", views.workers, name="workers"),
    path("queue/", views.queue, name="queue"),
    path("projects/", projects.projects_page, name="projects"),
    path("projects/switch/", projects.switch, name="project-switch"),
    path("projects/<int:pk>/", projects.project_page, name="project"),
    path("projects/<int:pk>/members/", projects.project_members, name="project-members"),
    path("settings/tokens/", views.tokens, name="tokens"),
    path("users/", views.users, name="users"),
    path("upload/", views.upload, name="upload"),
    path("vendor/uplot/<str:name>", views.vendor_uplot, name="vendor-uplot"),
    path("vendor/tus/<str:name>", views.vendor_tus, name="vendor-tus"),
]
