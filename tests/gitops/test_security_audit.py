"""The web service's security: secrets the Sluice process holds, settings for production."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from releases.models import Database, Environment, Project
from tests.helpers import manage

SECRET_VALUE = "the-control-database-password"


@pytest.fixture
def prod(db):
    project = Project.objects.create(slug="shop", name="Shop")
    return Environment.objects.create(project=project, slug="prod")


@pytest.fixture
def dba(db) -> Client:
    """A staff member who may manage target databases, and nothing else."""
    user = User.objects.create_user("dana", password="x", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(
        content_type__app_label="releases",
        codename__in=["add_database", "change_database", "view_database", "view_environment"],
    ))
    client = Client()
    client.force_login(user)
    return client


def _database_form(env: Environment, **fields: str) -> dict:
    return {"environment": env.pk, "name": "shop-prod", "url": "postgresql://app@evil.example:5432/x",
            "password": "", "password_env": "", "labels": "{}", **fields}


@pytest.mark.parametrize("name", ["SECRET_KEY", "DATABASE_URL", "SLUICE_ENCRYPTION_KEY", "AWS_SECRET_ACCESS_KEY",
                                  "SLUICE_DB_PASSWORD_", "sluice_db_password_x", "SLUICE_DB_PASSWORD_X Y"])
def test_a_database_cannot_read_its_password_from_any_variable_of_the_process(dba, prod, name):
    response = dba.post("/admin/releases/database/add/", _database_form(prod, password_env=name))
    assert response.status_code == 200  # the form again, with the error
    assert "must start with SLUICE_DB_PASSWORD_" in response.content.decode()
    assert not Database.objects.exists()


def test_a_database_reads_its_password_from_a_password_variable(dba, prod, monkeypatch):
    monkeypatch.setenv("SLUICE_DB_PASSWORD_SHOP_PROD", "pw")
    page = dba.get("/admin/releases/database/add/").content.decode()
    assert "must start with SLUICE_DB_PASSWORD_" in page  # the rule is in the help text
    response = dba.post("/admin/releases/database/add/", _database_form(prod, password_env="SLUICE_DB_PASSWORD_SHOP_PROD"))
    assert response.status_code == 302
    assert Database.objects.get().target().password == "pw"


def test_re_pointing_a_database_needs_its_password_again(dba, prod):
    """Whoever may edit a Database's URL must not have its stored password sent to their own server."""
    database = Database(environment=prod, name="shop-prod", url="postgresql://app@db.internal:5432/shop")
    database.set_password("s3cret")
    database.save()
    change = f"/admin/releases/database/{database.pk}/change/"
    response = dba.post(change, _database_form(prod, url="postgresql://app@evil.example:5432/shop"))
    assert response.status_code == 200 and "enter the password for it" in response.content.decode()
    database.refresh_from_db()
    assert database.url == "postgresql://app@db.internal:5432/shop" and database.target().password == "s3cret"
    # Another database on the same server keeps it; a new password for the new server is taken.
    assert dba.post(change, _database_form(prod, url="postgresql://app@db.internal:5432/shop2")).status_code == 302
    assert Database.objects.get().target().password == "s3cret"
    assert dba.post(change, _database_form(prod, url="postgresql://app@db2.internal/shop", password="n3w")).status_code == 302
    assert Database.objects.get().target().password == "n3w"


def test_a_row_saved_before_the_rule_fails_at_use_without_sending_the_value(prod, monkeypatch):
    monkeypatch.setenv("SLUICE_LEAKED_SECRET", SECRET_VALUE)
    database = Database.objects.create(environment=prod, name="shop-prod", url="postgresql://app@evil.example/x")
    Database.objects.filter(pk=database.pk).update(password_env="SLUICE_LEAKED_SECRET")  # as an old row
    database.refresh_from_db()
    with pytest.raises(ValueError, match="SLUICE_LEAKED_SECRET' is not a password variable") as caught:
        database.target()
    assert SECRET_VALUE not in str(caught.value)


PRODUCTION = {"DEBUG": "false", "SECRET_KEY": "k7Qw-9xZ_" * 6, "ALLOWED_HOSTS": "sluice.example.com"}


def test_production_without_a_secret_key_refuses_to_start():
    # Else sessions (an admin's too) are signed with the public development key.
    result = manage("check", env={**PRODUCTION, "SECRET_KEY": ""})
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr
    assert manage("check", env={"DEBUG": "true", "SECRET_KEY": ""}).returncode == 0  # the local start


def test_production_cookies_are_https_only_and_tls_is_the_operators_choice():
    result = manage("check", "--deploy", env=PRODUCTION)
    assert result.returncode == 0, result.stderr
    found = result.stdout + result.stderr
    assert "W012" not in found and "W016" not in found  # session and CSRF cookies: Secure
    assert "W004" in found and "W008" in found  # HSTS and the redirect: not without the operator
    result = manage("check", "--deploy", env={**PRODUCTION, "SECURE_SSL_REDIRECT": "true",
                                              "SECURE_HSTS_SECONDS": "31536000"})
    assert result.returncode == 0, result.stderr
    assert "W004" not in result.stderr and "W008" not in result.stderr


def test_behind_a_tls_proxy_a_forwarded_https_request_is_secure():
    probe = ("from django.test import RequestFactory; "
             "print(RequestFactory().get('/', HTTP_X_FORWARDED_PROTO='https').is_secure())")
    result = manage("shell", "-c", probe, env={**PRODUCTION, "SLUICE_TLS_PROXY": "true"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "True"
    result = manage("shell", "-c", probe, env=PRODUCTION)  # not behind one: a client's header means nothing
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_a_malformed_encryption_key_is_a_clear_error_at_start():
    result = manage("check", env={"SLUICE_ENCRYPTION_KEY": "not-a-fernet-key"})
    assert result.returncode != 0
    assert "SLUICE_ENCRYPTION_KEY is not a Fernet key" in result.stderr
    assert "not-a-fernet-key" not in result.stderr


@pytest.mark.parametrize("where", ["database", "environment"])
def test_an_error_report_of_the_database_forms_shows_no_posted_password(dba, prod, monkeypatch, where):
    """A 500 while saving (DEBUG's page, the mail to ADMINS) must not show the password just posted."""
    import logging

    from django.views.debug import SafeExceptionReporterFilter

    def broken(*args, **kwargs):
        raise RuntimeError("the control database went away")

    monkeypatch.setattr(Database, "save", broken)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger("django.request").addHandler(handler)
    dba.raise_request_exception = False
    try:
        if where == "database":
            dba.post("/admin/releases/database/add/", _database_form(prod, password="hunter2-secret"))
        else:
            User.objects.filter(username="dana").update(is_superuser=True)
            dba.post(f"/admin/releases/environment/{prod.pk}/change/", {
                "project": prod.project.pk, "slug": "prod", "name": "", "order": 1, "rollout": "manual",
                "required_approvals": 1, "concurrency": 4, "failure_policy": "stop",
                "databases-TOTAL_FORMS": 1, "databases-INITIAL_FORMS": 0, "databases-0-name": "shop-prod",
                "databases-0-url": "postgresql://app@db.internal/x", "databases-0-password": "hunter2-secret",
                "databases-0-labels": "{}", "groups-TOTAL_FORMS": 0, "groups-INITIAL_FORMS": 0})
    finally:
        logging.getLogger("django.request").removeHandler(handler)
    [record] = [r for r in records if r.levelno >= logging.ERROR]
    shown = SafeExceptionReporterFilter().get_post_parameters(record.request)
    assert "hunter2-secret" not in str(dict(shown))
