"""Default settings for the CLI and the demo: embedded SQLite in var/, served on loopback."""

from .base import *  # noqa: F403
from .base import env_bool

DEBUG = env_bool("CAUDAL_DEBUG", False)
