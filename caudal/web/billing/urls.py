"""Billing pages: runs and simulation (run_urls), bills and print batches (bill_urls)."""

from .bill_urls import urlpatterns as bill_patterns
from .run_urls import urlpatterns as run_patterns

urlpatterns = [*run_patterns, *bill_patterns]
