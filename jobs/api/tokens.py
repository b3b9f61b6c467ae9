"""`/api/tokens/`: the user's own API tokens. The key is in the 201 answer and nowhere else."""
from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, serializers, viewsets

from .. import audit
from ..tokens import ApiToken

MAX_EXPIRY_DAYS = 3650


class TokenSerializer(serializers.ModelSerializer):
    expires_in_days = serializers.IntegerField(min_value=1, max_value=MAX_EXPIRY_DAYS, required=False,
                                               allow_null=True, write_only=True,
                                               help_text="days until the key stops working; none: until revoked")

    class Meta:
        model = ApiToken
        fields = ["id", "name", "scope", "expires_in_days", "created", "expiry", "last_used"]
        read_only_fields = ["id", "created", "expiry", "last_used"]
        extra_kwargs = {"scope": {"required": True}}


class CreatedTokenSerializer(TokenSerializer):
    key = serializers.CharField(read_only=True, help_text="the key, shown in this answer only")

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "key"]


class NotWithAToken(permissions.BasePermission):
    """A named token does not make or revoke tokens: an expiring or read-only key that could mint an
    unlimited one would limit nothing. Sessions (the Tokens page, `lab login`) and the script keys of
    `manage.py drf_create_token` (already unlimited) may."""
    message = ("tokens are made and revoked from a signed-in session (Settings > Tokens, or `lab login`), "
               "not with another token")

    def has_permission(self, request, view):
        return request.method in permissions.SAFE_METHODS or not isinstance(request.auth, ApiToken)


@extend_schema(tags=["tokens"])
class TokenViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin,
                   viewsets.GenericViewSet):
    serializer_class = TokenSerializer
    permission_classes = [*viewsets.GenericViewSet.permission_classes, NotWithAToken]
    pagination_class = None  # a handful per user

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator, with no user
            return ApiToken.objects.none()
        return ApiToken.objects.filter(user=self.request.user)

    @extend_schema(request=TokenSerializer, responses={201: CreatedTokenSerializer})
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)

    @transaction.atomic
    def perform_create(self, serializer):
        days = serializer.validated_data.pop("expires_in_days", None)
        token, key = ApiToken.objects.create(self.request.user, expiry=timedelta(days=days) if days else None,
                                             **serializer.validated_data)
        token.key = key
        serializer.instance = token
        audit.record(self.request, audit.Action.TOKEN_CREATE, f"token {token.name}",
                     detail=f"scope {token.scope}" + (f", expires in {days} days" if days else ""))

    def get_serializer_class(self):
        return CreatedTokenSerializer if self.action == "create" else TokenSerializer

    @transaction.atomic
    def perform_destroy(self, instance):
        # revoking deletes knox's digest: the key answers 401 from now on
        audit.record(self.request, audit.Action.TOKEN_REVOKE, f"token {instance.name}")
        instance.delete()
