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
