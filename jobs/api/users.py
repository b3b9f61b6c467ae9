"""`/api/users/`: staff add users and deactivate them (the Users page).

A new user gets either a password made here or an invite link (Django's password-reset link:
one use, it dies when the password is set, PASSWORD_RESET_TIMEOUT at the latest); either is in
the 201 answer only. A password made or typed here is for the first login only (jobs/passwords.py).
A deactivated user is refused at once everywhere: sessions by ModelBackend
(get_user returns no inactive user, on every request), tokens of both kinds by jobs/auth.py.
"""
from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, serializers, viewsets

from ..auth import TokenScope
from ..passwords import require_change

User = get_user_model()


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "email", "is_active", "is_staff", "date_joined", "last_login"]
        read_only_fields = ["id", "username", "email", "is_staff", "date_joined", "last_login"]

    def validate_is_active(self, value):
        if not value and self.instance is not None and self.instance == self.context["request"].user:
            raise serializers.ValidationError("You cannot deactivate your own account.")
        return value


class NewUserSerializer(serializers.ModelSerializer):
    invite = serializers.BooleanField(default=False, write_only=True,
                                      help_text="answer an invite link instead of a password")
    password = serializers.CharField(required=False, write_only=True, trim_whitespace=False,
                                     help_text="the new user's password; none: one is made and answered once")
    invite_url = serializers.CharField(read_only=True, help_text="shown in this answer only")
    initial_password = serializers.CharField(read_only=True, help_text="shown in this answer only")

    class Meta:
        model = User
        fields = ["id", "username", "email", "is_active", "invite", "password", "invite_url", "initial_password"]
        read_only_fields = ["id", "is_active"]
        extra_kwargs = {"email": {"required": False}}

    def validate(self, attrs):
        if attrs.get("invite") and "password" in attrs:
            raise serializers.ValidationError({"password": ["An invited user sets their own password: give none."]})
        if "password" in attrs:
            try:  # AUTH_PASSWORD_VALIDATORS, against this user's name and email too
                password_validation.validate_password(attrs["password"], User(username=attrs["username"],
                                                                              email=attrs.get("email", "")))
            except DjangoValidationError as e:
                raise serializers.ValidationError({"password": list(e.messages)}) from e
        return attrs

    def create(self, validated):
        invite = validated.pop("invite")
        password = validated.pop("password", None)
        user = User(**validated)
        if invite:
            user.set_unusable_password()
        else:
            made = password is None
            password = password or secrets.token_urlsafe(12)
            user.set_password(password)
        user.save()
        if not invite:  # the admin knows it: the user chooses their own at first login
            require_change(user)
        if invite:
            path = reverse("password_reset_confirm", kwargs={"uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                                                             "token": default_token_generator.make_token(user)})
            user.invite_url = self.context["request"].build_absolute_uri(path)
        elif made:
            user.initial_password = password
        return user


@extend_schema(tags=["users"])
class UserViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet):
    permission_classes = [permissions.IsAuthenticated, TokenScope, permissions.IsAdminUser]
    queryset = User.objects.order_by("username")
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_serializer_class(self):
        return NewUserSerializer if self.action == "create" else UserSerializer

    @extend_schema(request=NewUserSerializer, responses={201: NewUserSerializer})
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)
