import pytest


@pytest.mark.django_db
def test_it_serves_the_start_page(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Smartcard Route" in response.content
