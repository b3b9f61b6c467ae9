from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from jobs.login import answers_429, login_view
from jobs.passwords import PasswordChangeDoneView, PasswordChangeView

urlpatterns = [
    # the two login pages, before the URLs they override (admin's and auth's own login)
    path("admin/login/", answers_429(admin.site.login)),
    path("admin/", admin.site.urls),
    path("accounts/login/", login_view, name="login"),
    # an invite link (jobs/api/users.py) is Django's password-reset link, on the lab's own pages
    # (admin's registration/ templates would win the template search)
    path("accounts/reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(
        template_name="frontend/set_password.html"), name="password_reset_confirm"),
    path("accounts/reset/done/", auth_views.PasswordResetCompleteView.as_view(
        template_name="frontend/password_set.html"), name="password_reset_complete"),
    path("accounts/password_change/", PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password_change/done/", PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include("jobs.urls")),
    path("", include("frontend.urls")),
]
