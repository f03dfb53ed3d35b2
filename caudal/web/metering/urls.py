"""Meter-reading pages: field capture and supervision (field_urls), critique (critique_urls)."""

from .critique_urls import urlpatterns as critique_patterns
from .field_urls import urlpatterns as field_patterns

urlpatterns = [*field_patterns, *critique_patterns]
