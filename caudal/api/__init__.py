"""The JSON API under /api/v1/ (django-ninja), one router per app."""
