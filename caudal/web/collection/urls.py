"""Collection pages: the cash desk (cashdesk_urls); centres, keys, settlements, files and
reports (office_urls)."""

from .cashdesk_urls import urlpatterns as cashdesk_patterns
from .office_urls import urlpatterns as office_patterns

urlpatterns = [*cashdesk_patterns, *office_patterns]
