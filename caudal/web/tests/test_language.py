"""The interface is Spanish whatever the browser says, unless the user chooses English."""

import pytest
from django.conf import settings


@pytest.mark.django_db
def test_login_page_is_spanish_for_an_english_browser(client):
    response = client.get("/ingresar/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert response.headers["Content-Language"] == "es"
    assert "Contraseña" in response.content.decode()


@pytest.mark.django_db
def test_english_when_chosen(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.get("/ingresar/", HTTP_ACCEPT_LANGUAGE="es-PE")
    assert response.headers["Content-Language"] == "en"
    assert "Password" in response.content.decode()
