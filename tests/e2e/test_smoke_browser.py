import pytest


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_it_shows_the_start_page_in_chromium(page):
    page.goto("/")
    assert page.locator("h1").inner_text() == "Get a Smartcard problem fixed"
