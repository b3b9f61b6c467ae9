from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from jobs.login import answers_429, login_view

urlpatterns = [
    # the two login pages, before the URLs they override (admin's and auth's own login)
    path("admin/login/", answers_429(admin.site.login)),
    path("admin/", admin.site.urls),
    path("accounts/login/", login_view, name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include("jobs.urls")),
    path("", include("frontend.urls")),
]
