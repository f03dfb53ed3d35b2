"""Settings shared by every environment. Everything that varies comes from the environment."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("CAUDAL_VAR_DIR", BASE_DIR / "var"))
# Uploaded files (readers' photos); served only through views that check permissions.
MEDIA_ROOT = Path(os.environ.get("CAUDAL_MEDIA_ROOT", VAR_DIR / "media"))
# Cartera snapshots (one folder of Parquet files per cut-off date) and published reports.
CAUDAL_SNAPSHOT_DIR = Path(os.environ.get("CAUDAL_SNAPSHOT_DIR", VAR_DIR / "snapshots"))
CAUDAL_REPORT_DIR = Path(os.environ.get("CAUDAL_REPORT_DIR", VAR_DIR / "reports"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


SECRET_KEY = os.environ.get("CAUDAL_SECRET_KEY", "insecure-development-key-change-me-" + "x" * 20)
DEBUG = env_bool("CAUDAL_DEBUG", False)
ALLOWED_HOSTS = env_list("CAUDAL_ALLOWED_HOSTS", "127.0.0.1,localhost")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "caudal.audit",
    "caudal.cadastre",
    "caudal.ledger",
    "caudal.tariffs",
    "caudal.metering",
    "caudal.billing",
    "caudal.collection",
    "caudal.portfolio",
    "caudal.reports",
    "caudal.web",
    # Django admin, opened by role (web.access_admin) as well as is_staff; listed after
    # caudal.web so that the web app's admin/base_site.html (Caudal colours) wins.
    "caudal.web.admin_site.CaudalAdminConfig",
    "caudal.demo",
    "caudal.bench",
    "caudal.ops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "caudal.web.middleware.ChosenLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "caudal.urls"
WSGI_APPLICATION = "caudal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "caudal.web.context_processors.chrome",
            ],
        },
    },
]


def database_from_env() -> dict[str, object]:
    url = os.environ.get("DATABASE_URL")
    if url:
        config = dict(dj_database_url.parse(url, conn_max_age=60))
        return config
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("CAUDAL_SQLITE_PATH", str(VAR_DIR / "caudal.sqlite3")),
        # Keep the connection between requests: opening one and running the PRAGMAs
        # doubled the server's CPU per API request (caudal bench payments-api).
        "CONN_MAX_AGE": None,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {
            # IMMEDIATE: writers take the lock at BEGIN, so two writers never deadlock
            # upgrading a read lock; the busy timeout makes the second one wait instead.
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL;"
                "PRAGMA synchronous=NORMAL;"
                "PRAGMA foreign_keys=ON;"
                "PRAGMA temp_store=MEMORY;"
                "PRAGMA cache_size=-200000;"
                "PRAGMA mmap_size=1073741824;"
            ),
        },
    }


DATABASES = {"default": database_from_env()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "es"
LANGUAGES = [("es", _("Spanish")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "caudal" / "locale"]
TIME_ZONE = os.environ.get("CAUDAL_TIME_ZONE", "America/Lima")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
# Front-end assets installed from the npm registry at install time (see package.json);
# nothing is loaded from a CDN at run time.
STATICFILES_DIRS = [("vendor", BASE_DIR / "node_modules" / ".caudal-vendor")]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Throttled failed logins (django-axes): 5 failures lock the username+IP for 15 minutes.
AXES_FAILURE_LIMIT = int(os.environ.get("CAUDAL_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked.html"

SESSION_COOKIE_AGE = 60 * 60 * 10
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True

EMAIL_BACKEND = os.environ.get(
    "CAUDAL_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("CAUDAL_LOG_LEVEL", "WARNING")},
}
