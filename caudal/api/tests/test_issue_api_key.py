"""``caudal issue-api-key``: prints a working key once; ``--revoke`` turns it off."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from caudal.collection.models import ApiKey
from caudal.collection.testing import make_centre

from .conftest import HOST

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("issue_api_key", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue().strip()


def test_issue_use_and_revoke(account) -> None:
    make_centre("CAR09")
    raw = _run("CAR09", "--label", "sistema de caja")
    key = ApiKey.objects.get()
    assert raw.startswith(f"cau_{key.prefix}_") and key.label == "sistema de caja"
    assert raw.split("_", 2)[2] not in key.secret_hash  # only the hash is stored
    path = f"/api/v1/accounts/{account.number}/debt"
    headers = {"Authorization": f"Bearer {raw}"}
    assert Client().get(path, headers=headers, HTTP_HOST=HOST).status_code == 200
    assert "revocada" in _run("--revoke", key.prefix)
    assert Client().get(path, headers=headers, HTTP_HOST=HOST).status_code == 401
    again = json.loads(_run("--revoke", key.prefix, "--json"))
    assert again["already_revoked"] is True and again["centre"] == "CAR09"


def test_json_output_and_errors(db) -> None:
    make_centre("CAR10")
    issued = json.loads(_run("CAR10", "--json"))
    assert issued["centre"] == "CAR10" and issued["key"].startswith("cau_" + issued["prefix"])
    with pytest.raises(CommandError, match="unknown centre 'NOPE'; known: CAR10"):
        _run("NOPE")
    with pytest.raises(CommandError, match="no key with prefix"):
        _run("--revoke", "ffffffff")
    with pytest.raises(CommandError, match="centre code"):
        _run()
