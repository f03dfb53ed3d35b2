"""Production settings: secrets and hosts must come from the environment."""

import os

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env_bool, env_list

DEBUG = False
try:
    SECRET_KEY = os.environ["CAUDAL_SECRET_KEY"]
except KeyError as exc:  # pragma: no cover - configuration error
    raise ImproperlyConfigured("CAUDAL_SECRET_KEY must be set in production") from exc
ALLOWED_HOSTS = env_list("CAUDAL_ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env_list("CAUDAL_CSRF_TRUSTED_ORIGINS")

SECURE_SSL_REDIRECT = env_bool("CAUDAL_SSL_REDIRECT", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = int(os.environ.get("CAUDAL_HSTS_SECONDS", str(60 * 60 * 24 * 365)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
