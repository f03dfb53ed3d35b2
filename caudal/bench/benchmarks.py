"""Every registered benchmark. Import-time registration with ``@benchmark``."""

from __future__ import annotations
