"""Signing in and out: Spanish pages, throttled failures (django-axes), POST-only logout."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_login_page_in_spanish(utility):
    response = Client().get("/ingresar/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Iniciar sesión" in body
    assert "Contraseña" in body
    assert "EPS Demo S.A." in body


def test_login_and_redirect(make_user):
    make_user("cashier", username="caja")
    client = Client()
    response = client.post(
        "/ingresar/?next=/buscar/", {"username": "caja", "password": PASSWORD, "next": "/buscar/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/buscar/"


def test_wrong_password_shows_a_spanish_error(make_user):
    make_user("cashier", username="caja")
    response = Client().post("/ingresar/", {"username": "caja", "password": "mala"})
    assert response.status_code == 200
    assert "Por favor, introduzca un nombre de usuario y clave correctos" in (
        response.content.decode()
    )


def test_lockout_after_the_failure_limit(make_user):
    make_user("cashier", username="caja")
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert client.post("/ingresar/", {"username": "caja", "password": "x"}).status_code == 200
    locked = client.post("/ingresar/", {"username": "caja", "password": "x"})
    assert locked.status_code == 429
    body = locked.content.decode()
    assert "Acceso bloqueado temporalmente" in body
    assert "Vuelva a intentarlo en 15 minutos" in body
    # even the right password is refused while locked
    again = client.post("/ingresar/", {"username": "caja", "password": PASSWORD})
    assert again.status_code == 429


def test_logout_is_post_only(login):
    client = login("cashier")
    assert client.get("/salir/").status_code == 405
    response = client.post("/salir/")
    assert response.status_code == 302
    assert client.get("/").status_code == 302
