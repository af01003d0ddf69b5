from __future__ import annotations

import pytest

from releases.demo import seed_demo
from releases.models import AppliedMigration, Database, Environment, Project

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    info = seed_demo()
    assert info.error == ""
    return info


def test_it_lists_the_demo(admin_client, demo):
    response = admin_client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Demo shop" in html
    for env in ("test", "staging", "prod"):
        assert f"<strong>{env}</strong>" in html
        assert f"shop-{env}" in html
    assert "SQLite" in html


def test_it_shows_the_applied_count_and_newest_version(admin_client, demo):
    test_db = Database.objects.get(environment__slug="test")
    assert demo.applied == 6
    assert AppliedMigration.objects.filter(database=test_db).count() == 6
    html = admin_client.get("/").content.decode()
    assert "<td>6</td>" in html
    assert "<code>202501170900</code>" in html


def test_it_never_shows_a_database_url(admin_client, demo):
    html = admin_client.get("/").content.decode()
    assert "sqlite:" not in html
    assert "postgresql://" not in html
    for db in Database.objects.all():
        assert db.url not in html


def test_it_needs_a_login(client, demo):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_its_query_count_does_not_grow_with_the_data(admin_client, demo, django_assert_max_num_queries):
    project = Project.objects.create(slug="billing", name="Billing")
    for order, slug in enumerate(["dev", "qa", "live"], start=1):
        env = Environment.objects.create(project=project, slug=slug, order=order)
        for n in range(3):
            db = Database.objects.create(
                environment=env, name=f"billing-{slug}-{n}", url=f"sqlite:///x{n}.db"
            )
            AppliedMigration.objects.create(
                database=db, version="1", description="init", kind="ddl", checksum="v1:00", status="applied"
            )
    # session + user + projects + environments + databases
    with django_assert_max_num_queries(5):
        response = admin_client.get("/")
    assert "billing-live-2" in response.content.decode()


def test_seeding_twice_changes_nothing(demo):
    again = seed_demo()
    assert not again.seeded
    assert again.password is None
    assert Project.objects.count() == 1
    assert Environment.objects.count() == 3


def test_the_seed_matches_the_design(demo):
    envs = {e.slug: e for e in Environment.objects.select_related("approver_group")}
    assert [(e.slug, e.order, e.rollout, e.required_approvals) for e in envs.values()] == [
        ("test", 1, "automatic", 0),
        ("staging", 2, "manual", 1),
        ("prod", 3, "manual", 2),
    ]
    assert envs["prod"].approver_group.name == "release-managers"
    assert envs["staging"].approver_group.name == "release-managers"
    for db in Database.objects.all():
        assert db.engine == "sqlite"
        assert db.url.startswith("sqlite:////")
        assert db.password() is None
