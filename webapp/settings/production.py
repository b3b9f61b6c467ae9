"""Production: real servers only, hardened (Django's deployment checklist)."""
from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F401,F403
from .base import DEFAULT_SECRET_KEY, LAB_DATA_DIR, LAB_EMBEDDED, SECRET_KEY, env

DEBUG = False
if env.bool("DJANGO_DEBUG", default=False):
    raise ImproperlyConfigured("production settings refuse DJANGO_DEBUG=true")
if SECRET_KEY == DEFAULT_SECRET_KEY or len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("production settings need DJANGO_SECRET_KEY: a random string of 50+ characters")
if LAB_EMBEDDED:
    raise ImproperlyConfigured(f"production settings refuse embedded servers ({', '.join(LAB_EMBEDDED)}): "
                               "set DATABASE_URL and REDIS_URL to real servers")

# production runs behind a TLS-terminating proxy (docker/Caddyfile) that sets X-Forwarded-Proto on every
# request, overwriting what a client sent: only then may Django believe it (the websocket Origin check,
# jobs/ws_auth.py, reads it too)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}}  # noqa: F405
WHITENOISE_USE_FINDERS = False
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=str(LAB_DATA_DIR / "static"))
