"""What a release promises when it is created: the same commit gives one release, a file is new
or not as the runner will see it, and nothing removes a release's files or records afterwards."""

from __future__ import annotations

import threading
import unicodedata

import pytest
from django.db import connection

from releases import services
from releases.models import AuditEvent, Project, Release, ReleaseFile
from releases.services import Refused

pytestmark = pytest.mark.django_db(transaction=True)


def sql(version: str, name: str = "step", body: str = "CREATE TABLE t (id integer);\n") -> tuple[str, bytes]:
    return f"migrations/{version}_{name}.sql", body.encode()


@pytest.fixture
def project():
    # No environments: a release is stored and its (empty) rollout planned, nothing runs.
    return Project.objects.create(slug="shop", name="Shop")


# -- new, edited, out of order, missing -------------------------------------------------------------


def test_a_version_written_with_leading_zeros_is_the_same_version(project):
    services.create_release(project, commit="a" * 40, files=[sql("001", "init")])
    # Renamed, same content: the runner sees version 1 as applied, so the file is not new.
    renamed, _ = services.create_release(project, commit="b" * 40, files=[sql("1", "init")])
    assert renamed.files.get().is_new is False
    # Renamed and edited: the runner would refuse it as modified after apply.
    with pytest.raises(Refused, match="edited") as refused:
        services.create_release(project, commit="c" * 40, files=[sql("1", "init", "DROP TABLE t;\n")])
    assert refused.value.status == 422
    assert project.releases.count() == 2


def test_an_out_of_order_file_is_refused_unless_the_project_allows_it(project):
    services.create_release(project, commit="a" * 40, files=[sql("1"), sql("3")])
    late = [sql("1"), sql("2", "late"), sql("3")]
    with pytest.raises(Refused, match="out of order") as refused:
        services.create_release(project, commit="b" * 40, files=late)
    assert refused.value.status == 422
    assert refused.value.details[0]["file"] == "migrations/2_late.sql"
    assert project.releases.count() == 1

    project.allow_out_of_order = True
    project.save()
    release, created = services.create_release(project, commit="b" * 40, files=late)
    assert created
    assert dict(release.files.values_list("version", "is_new")) == {"1": False, "2": True, "3": False}


def test_a_file_missing_from_the_previous_release_is_on_record(project):
    services.create_release(project, commit="a" * 40, files=[sql("1"), sql("2"), sql("3")])
    release, created = services.create_release(project, commit="b" * 40, files=[sql("1"), sql("3")])
    assert created and release.files.count() == 2
    event = AuditEvent.objects.get(verb="release.create", object_id=str(release.pk))
    assert event.data["missing"] == ["migrations/2_step.sql"]


# -- limits and paths -------------------------------------------------------------------------------


def test_a_name_longer_than_the_record_holds_is_a_422_naming_the_file(project):
    long_name = sql("1", "x" * 600)
    long_version = sql(".".join(["1"] * 60))
    with pytest.raises(Refused) as refused:
        services.create_release(project, commit="a" * 40, files=[long_name, long_version])
    assert refused.value.status == 422
    assert {d["file"] for d in refused.value.details} == {long_name[0], long_version[0]}
    assert Release.objects.count() == 0


def test_one_name_in_two_unicode_spellings_is_one_version_twice(project):
    nfc = sql("1", unicodedata.normalize("NFC", "café"))
    nfd = sql("1", unicodedata.normalize("NFD", "café"))
    assert nfc[0] != nfd[0]
    with pytest.raises(Refused, match="not valid migrations") as refused:
        services.create_release(project, commit="a" * 40, files=[nfc, nfd])
    assert refused.value.status == 422 and "duplicate version" in refused.value.details[0]["message"]
    assert Release.objects.count() == 0


# -- the same commit ------------------------------------------------------------------------------


def test_two_concurrent_posts_of_one_commit_make_one_release(project):
    files = [sql(str(i)) for i in range(1, 30)]
    barrier = threading.Barrier(2)
    results: list = []

    def post() -> None:
        try:
            barrier.wait(10)
            results.append(services.create_release(project, commit="a" * 40, files=files))
        except Exception as exc:  # noqa: BLE001 (reported below)
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [type(r) for r in results] == [tuple, tuple], results
    assert sorted(created for _, created in results) == [False, True]
    assert results[0][0].pk == results[1][0].pk
    assert Release.objects.count() == 1 and ReleaseFile.objects.count() == 29


# -- immutability -----------------------------------------------------------------------------------


def test_the_admin_deletes_no_release_file(admin_client, project):
    release, _ = services.create_release(project, commit="a" * 40, files=[sql("1"), sql("2")])
    file = release.files.first()
    response = admin_client.post(f"/admin/releases/releasefile/{file.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    admin_client.post(
        "/admin/releases/releasefile/",
        {
            "action": "delete_selected",
            "_selected_action": [f.pk for f in release.files.all()],
            "post": "yes",
        },
    )
    assert release.files.count() == 2


def test_the_admin_deletes_no_release_that_has_rollouts(admin_client, project):
    release, _ = services.create_release(project, commit="a" * 40, files=[sql("1")])
    assert release.rollouts.exists()
    response = admin_client.post(f"/admin/releases/release/{release.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    admin_client.post(
        "/admin/releases/release/",
        {
            "action": "delete_selected",
            "_selected_action": [release.pk],
            "post": "yes",
        },
    )
    admin_client.post(f"/admin/releases/project/{project.pk}/delete/", {"post": "yes"})
    assert Release.objects.filter(pk=release.pk).exists() and release.files.count() == 1
    assert release.rollouts.count() == 1


def test_the_api_answers_a_too_long_name_with_422_naming_the_file(project):
    from rest_framework.test import APIClient

    from gitops.models import ApiToken

    _, raw = ApiToken.issue(project, "ci", ["release"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    path = f"migrations/1_{'x' * 600}.sql"
    body = {"commit": "a" * 40, "files": [{"path": path, "content": "SELECT 1;"}]}
    response = client.post("/api/v1/projects/shop/releases", body, format="json")
    assert response.status_code == 422, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_files" and error["details"][0]["file"] == path
    assert Release.objects.count() == 0


def test_a_commit_sha_in_capitals_is_the_same_commit(project):
    first, created = services.create_release(project, commit="ab" * 20, files=[sql("1")])
    again, created_again = services.create_release(project, commit="AB" * 20, files=[sql("1")])
    assert created and not created_again and again.pk == first.pk and first.commit_sha == "ab" * 20
