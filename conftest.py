"""Suite-wide fixtures. App-specific fixtures live in each app's tests/conftest.py."""

import pytest


@pytest.fixture
def utility(db):
    from caudal.cadastre.testing import make_utility

    return make_utility()


@pytest.fixture
def account(db, utility):
    from caudal.cadastre.testing import make_account

    return make_account()


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache: cached figures (reading progress totals per
    route and period) must not leak from one test's data into the next one's."""
    from django.core.cache import cache

    cache.clear()
    yield
