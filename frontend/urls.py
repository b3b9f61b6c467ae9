from django.urls import path

from . import projects, views

app_name = "frontend"

urlpatterns = [
    path("", views.jobs_list, name="jobs"),
    path("jobs/new/", views.job_new, name="job-new"),
    path("jobs/<int:pk>/", views.job_detail, name="job"),
    path("compare/", views.compare, name="compare"),
    path("workers/", views.workers, name="workers"),
    path("projects/", projects.projects_page, name="projects"),
    path("projects/switch/", projects.switch, name="project-switch"),
    path("projects/<int:pk>/", projects.project_page, name="project"),
    path("projects/<int:pk>/members/", projects.project_members, name="project-members"),
    path("settings/tokens/", views.tokens, name="tokens"),
    path("users/", views.users, name="users"),
    path("vendor/uplot/<str:name>", views.vendor_uplot, name="vendor-uplot"),
]
