"""Fixtures for the security tests."""
from pathlib import Path

import pytest
from django.template import TemplateDoesNotExist
from django.template.loader import get_template


@pytest.fixture
def login_template(settings):
    """The frontend's login page where it is installed, else a minimal one with the same form."""
    try:
        get_template("registration/login.html")
    except TemplateDoesNotExist:
        settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [Path(__file__).parent / "templates"]}]
