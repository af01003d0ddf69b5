"""The review API: a stateless review, and checks of a pull request stored with their findings.

    POST /api/v1/review                       any token or signed-in user → sluice.check/v1
    POST /api/v1/projects/{project}/checks    token scope `check` (or staff) → stored check, 201
    GET  /api/v1/checks/{id}                  token scope `read` of the same project (or staff)

A check reviews the files once per distinct (policy, dialect) among the project's environments
(an environment's own policy, else the project's default, else `recommended`; the dialect from
its databases' engines unless the request names one) and stores one Finding per distinct
finding and message, with the slugs of the environments whose policy raised it: each engine words
its advice its own way, so one problem may have a row per engine, but the summary counts it once.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular import openapi
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gitops import api_errors
from gitops.api_errors import ApiError
from gitops.models import ApiToken
from gitops.permissions import HasProjectScope
from releases.loader import FileProblem, LoadError, load_files, parse_name, version_key
from releases.loader import checksum as loader_checksum
from releases.models import DIALECT_OF_ENGINE, Project, Provider
from reviews.engine import TEMPLATES, Policy, ReviewResult, review_files
from reviews.engine.core import FAIL_ON, RISK_RANK, SEVERITY_RANK
from reviews.engine.core import Finding as EngineFinding
from reviews.models import Check, Finding, ReviewPolicy
from reviews.policy_io import fallback_row, policy_from_model
from reviews.splitter import DIALECTS

DIALECT_ALIASES = {"postgresql": "postgres"}  # the Database.engine spelling
WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")
HEX = re.compile(r"[0-9a-fA-F]*")
DIGITS = re.compile(r"[0-9]*")
INVISIBLE = {"Cc", "Cf"}  # control and format characters: DEL, bidi overrides, zero-width spaces


# -- requests ----------------------------------------------------------------------------------


class StrictSerializer(serializers.Serializer):
    # Refuses keys it does not know, each named: DRF would drop them, so a misspelt or misplaced
    # option would silently not apply. (A comment, not a docstring: the OpenAPI document would
    # give it as the description of every request object.)

    misplaced: dict[str, str] = {}  # a key that belongs elsewhere → why it is refused

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            expected = ", ".join(self.fields)
            unknown = {
                key: [self.misplaced.get(key) or f"unknown key: expected {expected}"]
                for key in data
                if key not in self.fields
            }
            if unknown:
                raise serializers.ValidationError(unknown)
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    """A JSON string; DRF's CharField would turn 42 into "42"."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictChoiceField(serializers.ChoiceField):
    """A JSON string among the choices; DRF would quote a list or a number as its Python repr."""

    default_error_messages = {
        "invalid": "must be a string: one of {choices}",
        "invalid_choice": '"{input}" is not one of {choices}',
    }

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid", choices=", ".join(map(str, self.choices)))
        if data == "" and self.allow_blank:
            return ""
        if data not in self.choice_strings_to_values:
            self.fail("invalid_choice", input=data, choices=", ".join(map(str, self.choices)))
        return self.choice_strings_to_values[data]


class MigrationPathField(StrictCharField):
    """A repository-relative `.sql` path. Checked before the generic validators, so that every
    rejection names the path."""

    def to_internal_value(self, data: Any) -> str:
        path = super().to_internal_value(data)
        problem = path_problem(path)
        if problem:
            raise serializers.ValidationError(f"path {path!r} {problem}")
        return path


def path_problem(path: str) -> str | None:
    """Why a path is not one repository-relative spelling of a `.sql` file, or None. With one
    spelling per file, comparing the strings finds a file given twice."""
    if not path.isprintable():  # in C: the per-character look-up only for the odd path
        for offset, char in enumerate(path):
            if unicodedata.category(char) in INVISIBLE:
                return f"contains the control or formatting character U+{ord(char):04X} at offset {offset}"
    if path != path.strip():
        return "starts or ends with whitespace"
    if "\\" in path:
        return "contains a backslash: separate folders with /"
    if path.startswith("/") or WINDOWS_DRIVE.match(path):
        return "is absolute: give it relative to the repository root"
    segments = path.split("/")
    if ".." in segments:
        return "contains '..'"
    if "." in segments or "" in segments:
        return "has an empty or '.' folder: write it without './' and '//'"
    if not path.endswith(".sql") or segments[-1] == ".sql":
        return "is not a .sql file"
    return None


class DialectField(StrictChoiceField):
    def __init__(self, **kwargs: Any):
        super().__init__(choices=DIALECTS, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        return super().to_internal_value(DIALECT_ALIASES.get(data, data) if isinstance(data, str) else data)


class MigrationFileSerializer(StrictSerializer):
    path = MigrationPathField(max_length=1000, trim_whitespace=False)
    content = StrictCharField(
        required=False, allow_blank=True, trim_whitespace=False, help_text="The file as UTF-8 text."
    )
    content_base64 = StrictCharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="The file's raw bytes, base64: lets bad encodings be reviewed.",
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # NUL in the content is the engine's to report (system.encoding-error), located.
        for name in ("content", "content_base64"):
            field = self.fields[name]
            field.validators = [
                v for v in field.validators if type(v).__name__ != "ProhibitNullCharactersValidator"
            ]

    def validate(self, attrs: dict) -> dict:
        path = attrs["path"]
        if ("content" in attrs) == ("content_base64" in attrs):
            raise serializers.ValidationError(f"{path}: give exactly one of content and content_base64")
        if "content_base64" in attrs:
            try:
                data = base64.b64decode(attrs["content_base64"], validate=True)
            except (binascii.Error, ValueError):
                raise serializers.ValidationError({"content_base64": f"{path}: not valid base64"}) from None
        else:
            # As bytes: the engine then reports NUL bytes the same way whichever field was used.
            data = attrs["content"].encode("utf-8")
        return {"path": path, "data": data}


def unique_paths(files: list[dict]) -> list[dict]:
    seen: set[str] = set()
    for index, item in enumerate(files):
        if item["path"] in seen:
            # At the second one's path, so that the error names its file.
            raise serializers.ValidationError({index: {"path": [f"path {item['path']!r} is given twice"]}})
        seen.add(item["path"])
    return files


class ReviewRequestSerializer(StrictSerializer):
    dialect = DialectField()
    files = MigrationFileSerializer(many=True, allow_empty=False)
    policy = serializers.CharField(
        required=False,
        help_text=f"A policy composed in the admin, or a template ({', '.join(TEMPLATES)}); default: recommended.",
    )
    fail_on = StrictChoiceField(choices=FAIL_ON, default="error")

    def validate_files(self, files: list[dict]) -> list[dict]:
        return unique_paths(files)

    def validate_policy(self, name: str) -> Policy:
        # A stored policy wins over a template of the same name: the admin composed it on purpose.
        stored = ReviewPolicy.objects.filter(name=name).first()
        if stored is not None:
            return engine_policy(stored)
        if name in TEMPLATES:
            return Policy.template(name)
        known = sorted({*TEMPLATES, *ReviewPolicy.objects.values_list("name", flat=True)})
        raise serializers.ValidationError(f"unknown policy {name!r}: expected one of {', '.join(known)}")


class PullRequestField(serializers.CharField):
    """A pull request number: 42 or "42" (stored as a string)."""

    default_error_messages = {"invalid": 'must be a pull request number: 42 or "42"'}

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, int) and not isinstance(data, bool):
            data = str(data)
        if not isinstance(data, str):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if not DIGITS.fullmatch(value):
            self.fail("invalid")
        return value


class CommitShaField(StrictCharField):
    default_error_messages = {"not_hex": "must be a commit SHA in hexadecimal"}

    def __init__(self, **kwargs: Any):
        super().__init__(max_length=64, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if not HEX.fullmatch(value):
            self.fail("not_hex")
        return value


class StrictURLField(StrictCharField, serializers.URLField):
    pass


class VcsSerializer(StrictSerializer):
    provider = StrictChoiceField(choices=Provider.choices, required=False, allow_blank=True)
    repo = StrictCharField(max_length=300, required=False, allow_blank=True)
    pr = PullRequestField(source="pull_request", max_length=50, required=False, allow_blank=True)
    head_sha = CommitShaField(required=False, allow_blank=True)
    base_sha = CommitShaField(required=False, allow_blank=True)
    url = StrictURLField(max_length=1000, required=False, allow_blank=True)


class CheckRequestSerializer(StrictSerializer):
    files = MigrationFileSerializer(many=True, allow_empty=False)
    vcs = VcsSerializer(required=False)
    dialect = DialectField(required=False, help_text="Default: the engines of the project's databases.")
    fail_on = StrictChoiceField(choices=FAIL_ON, default="error")

    misplaced = {
        "policy": "not taken here: a check applies each environment's policy (or the project's default); "
        "to review against one policy, POST /api/v1/review",
    }

    def validate_files(self, files: list[dict]) -> list[dict]:
        return unique_paths(files)


# -- responses -----------------------------------------------------------------------------------


class ResponseSerializer(serializers.ModelSerializer):
    # Only ever writes a response, with every field: all read-only, so that the OpenAPI document
    # lists each one as required (and without the input-only choices of a blank value).

    def get_extra_kwargs(self) -> dict:
        extra = super().get_extra_kwargs()
        for name in self.Meta.fields:
            extra[name] = {**extra.get(name, {}), "read_only": True}
        return extra


class EngineFindingSerializer(serializers.Serializer):
    rule = serializers.CharField()
    severity = serializers.CharField()
    message = serializers.CharField()
    file = serializers.CharField()
    line = serializers.IntegerField()
    column = serializers.IntegerField()
    end_line = serializers.IntegerField()
    statement = serializers.CharField()
    fingerprint = serializers.CharField()
    suppressed = serializers.BooleanField()
    rule_url = serializers.CharField(help_text="The rule's page (API responses; not in the command's JSON).")


class SummarySerializer(serializers.Serializer):
    errors = serializers.IntegerField()
    warnings = serializers.IntegerField()
    infos = serializers.IntegerField()
    files = serializers.IntegerField()
    blocking = serializers.BooleanField()
    risk = serializers.ChoiceField(choices=list(RISK_RANK))


class FileRiskSerializer(serializers.Serializer):
    file = serializers.CharField()
    risk = serializers.ChoiceField(choices=list(RISK_RANK))
    statements = serializers.IntegerField()


class ReviewDocumentSerializer(serializers.Serializer):
    """The `sluice.check/v1` document (documentation: the engine builds it)."""

    schema = serializers.CharField()
    summary = SummarySerializer()
    findings = EngineFindingSerializer(many=True)
    errors = serializers.ListField(child=serializers.DictField())
    files = FileRiskSerializer(many=True, help_text="Each file with its own risk level.")


class FindingSerializer(ResponseSerializer):
    rule = serializers.CharField(source="rule_id", read_only=True)
    rule_url = serializers.SerializerMethodField(help_text="The rule's page: what it flags, why, the safe alternative.")
    environments = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="Slugs of the environments whose policy raised it.",
    )

    class Meta:
        model = Finding
        fields = [
            "rule",
            "severity",
            "message",
            "file",
            "line",
            "column",
            "end_line",
            "statement",
            "fingerprint",
            "suppressed",
            "environments",
            "rule_url",
        ]

    def get_rule_url(self, obj: Finding) -> str:
        return _rule_page(self.context.get("request"), obj.rule_id)


def _rule_page(request: Request | None, rule_id: str) -> str:
    """The rule's page, absolute when there is a request to take the host from."""
    path = reverse("rule-detail", args=[rule_id])
    return request.build_absolute_uri(path) if request is not None else path


class CheckVcsSerializer(serializers.Serializer):
    # The check's vcs as stored: blank where the request gave nothing.
    provider = serializers.ChoiceField(choices=[("", "none"), *Provider.choices], read_only=True)
    repo = serializers.CharField(read_only=True)
    pr = serializers.CharField(source="pull_request", read_only=True)
    head_sha = serializers.CharField(read_only=True)
    base_sha = serializers.CharField(read_only=True)
    url = serializers.CharField(read_only=True)


class CheckSerializer(ResponseSerializer):
    """A stored check: the `sluice.check/v1` document plus id, url, project and vcs."""

    schema = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    project = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    vcs = CheckVcsSerializer(source="*", read_only=True)
    summary = SummarySerializer(read_only=True)
    findings = FindingSerializer(many=True, read_only=True)
    errors = serializers.ListField(child=serializers.DictField(), read_only=True)
    files = FileRiskSerializer(many=True, read_only=True, help_text="Each file with its own risk level.")

    class Meta:
        model = Check
        fields = [
            "schema",
            "id",
            "url",
            "project",
            "vcs",
            "created_by",
            "created_at",
            "summary",
            "findings",
            "errors",
            "files",
        ]

    def get_schema(self, check: Check) -> str:
        return "sluice.check/v1"

    def get_url(self, check: Check) -> str:
        path = reverse("reviews-api:check-detail", args=[check.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class AutoSchema(openapi.AutoSchema):
    """Documents the error responses every operation may give, in the one error shape."""

    def _get_response_bodies(self, direction: str = "response") -> dict:
        responses = super()._get_response_bodies(direction)
        codes = [401, 403]
        if "{" in self.path:
            codes.append(404)  # an unknown project or object
        if self.method == "POST":
            codes += [400, 409]
            if self.get_request_serializer() is not None:
                codes += [413, 415]
        for code in sorted(codes):
            body = self._get_response_for_code(api_errors.ErrorSerializer, str(code), direction=direction)
            responses.setdefault(str(code), body)
        return responses


# -- views ------------------------------------------------------------------------------------------


class ReviewView(APIView):
    """Review files against a policy; nothing is stored."""
    schema = AutoSchema()

    @extend_schema(request=ReviewRequestSerializer, responses={200: ReviewDocumentSerializer})
    def post(self, request: Request) -> Response:
        serializer = ReviewRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        files = [(f["path"], f["data"]) for f in data["files"]]
        result = review_files(files, data["dialect"], data.get("policy") or fallback_engine_policy())
        # What a release of these files would refuse (as a check lists it), each an error of its file, as
        # `manage.py review` reports it: counted with the error findings, blocking unless fail_on is never.
        reviews = {r.path: r for r in result.files}
        for problem in _not_reported(release_problems(files),
                                     {(f.file, f.rule) for f in result.active if f.severity == "error"}):
            reviews[problem["file"]].refuse(problem["message"], problem.get("line"))
        document = result.as_json(data["fail_on"])
        for finding in document["findings"]:  # (as a stored check's findings: each links to its rule's page)
            finding["rule_url"] = _rule_page(request, finding["rule"])
        return Response(document)


class CheckViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    schema = AutoSchema()
    queryset = Check.objects.select_related("project").prefetch_related(
        Prefetch("findings", queryset=Finding.objects.order_by("file", "line", "column", "rule_id", "pk"))
    )
    serializer_class = CheckSerializer

    def get_permissions(self) -> list[BasePermission]:
        return [HasProjectScope("check" if self.action == "create" else "read")]

    def get_queryset(self) -> QuerySet[Check]:
        queryset = super().get_queryset()
        if isinstance(self.request.auth, ApiToken):
            # Another project's check is "not found", not "forbidden": a token learns nothing
            # about other projects, not even which (sequential) ids exist.
            queryset = queryset.filter(project_id=self.request.auth.project_id)
        return queryset

    @extend_schema(request=CheckRequestSerializer, responses={201: CheckSerializer})
    def create(self, request: Request, project: str) -> Response:
        project_obj = get_object_or_404(Project.objects.select_related("default_policy"), slug=project)
        serializer = CheckRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        check = record_check(
            project_obj,
            [(f["path"], f["data"]) for f in data["files"]],
            vcs=data.get("vcs", {}),
            dialect=data.get("dialect"),
            fail_on=data["fail_on"],
            created_by=request.user.get_username(),
        )
        check = self.get_queryset().get(pk=check.pk)
        return Response(self.get_serializer(check).data, status=status.HTTP_201_CREATED)


# -- the workflow ---------------------------------------------------------------------------------
# TODO: move to reviews/services.py (it spans Check, Finding and the policies) when that exists.


def engine_policy(stored: ReviewPolicy) -> Policy:
    try:
        return policy_from_model(stored)
    except ValueError as exc:
        # The request is fine; the stored policy is not (e.g. a rule id the code no longer knows).
        raise ApiError(
            f"review policy {stored.name!r} is invalid: {exc}. Fix it in the admin.",
            code="invalid_policy",
            status_code=status.HTTP_409_CONFLICT,
        ) from None


def fallback_engine_policy() -> Policy:
    """No policy named or attached: the stored `recommended` (as tuned in the admin), else the template."""
    stored = fallback_row()
    return engine_policy(stored) if stored is not None else Policy.recommended()


def review_groups(project: Project, dialect: str | None) -> list[tuple[ReviewPolicy | None, str, list[str]]]:
    """(policy, dialect, environment slugs) for each distinct (policy, dialect) of the project."""
    environments = list(
        project.environments.select_related("review_policy")
        .prefetch_related("databases")
        .order_by("order", "slug")
    )
    every_dialect = list(
        dict.fromkeys(DIALECT_OF_ENGINE[db.engine] for env in environments for db in env.databases.all())
    )
    groups: dict[tuple[int | None, str], tuple[ReviewPolicy | None, str, list[str]]] = {}
    fallback = fallback_row()
    for env in environments or [None]:
        policy = (env.review_policy if env else None) or project.default_policy or fallback
        if dialect:
            dialects = [dialect]
        else:
            own = (
                list(dict.fromkeys(DIALECT_OF_ENGINE[db.engine] for db in env.databases.all())) if env else []
            )
            dialects = own or every_dialect  # an environment without databases yet: the project's engines
        if not dialects:
            raise ApiError(
                f"give a dialect: project {project.slug} has no databases to take it from",
                code="dialect_required",
                status_code=status.HTTP_400_BAD_REQUEST,
                details=[{"field": "dialect"}],
            )
        for name in dialects:
            group = groups.setdefault((policy.pk if policy else None, name), (policy, name, []))
            if env is not None:
                group[2].append(env.slug)
    return list(groups.values())


def history_findings(project: Project, files: list[tuple[str, bytes | str]]) -> list[EngineFinding]:
    """migration.modified-history and migration.non-linear: the files against the project's latest
    release (matched by version, so a moved file is still the same migration). Severity is each
    policy's to set: see `_with_severity`."""
    latest = project.releases.order_by("-created_at", "-pk").first()
    if latest is None:
        return []
    released = {version_key(rf.version): rf for rf in latest.files.only("path", "version", "checksum")}
    if not released:
        return []
    newest = max(released)
    newest_version = released[newest].version
    found: list[EngineFinding] = []
    for path, data in files:
        try:
            version, _, _ = parse_name(path)
        except FileProblem:
            continue  # a bad name is the loader's to report (releases refuse it)
        text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
        key = version_key(version)
        released_file = released.get(key)
        if released_file is not None and released_file.checksum != loader_checksum(text):
            rule, message = "migration.modified-history", (
                f"version {version} was released in {latest.uid} ({released_file.path}) and this edit changes it: "
                "databases that applied it will never run the edit. Revert it and put the change in a new migration")
        elif released_file is None and key < newest:
            rule = "migration.non-linear"
            message = non_linear_message(project, version, newest_version, latest.uid)
        else:
            continue
        finding = EngineFinding(rule, "", message, path, 1, 1, 1, "")
        finding.fingerprint = hashlib.sha256(f"{rule}\0{path}\0{version}".encode()).hexdigest()[:32]
        found.append(finding)
    return found


def non_linear_message(project: Project, version: str, newest: str, release_uid: str) -> str:
    where = f"version {version} sorts before {newest}, the newest version already released ({release_uid})"
    if project.allow_out_of_order:
        # The runner applies it (design §3), but not in the same order everywhere.
        return (
            f"{where}: databases that have {newest} apply it after {newest}, new ones before it. Make sure it "
            f"does not depend on that order, or rename it to a version after {newest}"
        )
    return f"{where}: databases that have {newest} refuse it as out of order. Rename it to a version after {newest}"


# Release refusals that an engine rule reports too (by releases.loader's wording): left out of the
# check's `errors` where that rule raised an error on the file, so that a problem is listed once.
REPORTED_BY_RULE = {
    "is empty:": "system.empty-file",
    "is UTF-16 encoded": "system.encoding-error",
    "is not valid UTF-8": "system.encoding-error",
    "contains a NUL byte": "system.encoding-error",
}


def release_problems(files: list[tuple[str, bytes | str]]) -> list[dict]:
    """What a release of these files would refuse (releases.loader: a name that is not
    `<version>_<description>.sql`, a bad run directive, two files with one version, bytes that are not
    UTF-8, an empty file), as the check's `errors`: found on the pull request, not when it merges.
    Each blocks the check (unless it fails on nothing)."""
    try:
        load_files([(path, data.encode() if isinstance(data, str) else data) for path, data in files])
    except LoadError as exc:
        return [{key: value for key, value in p.as_dict().items() if value is not None} for p in exc.problems]
    return []


def _not_reported(problems: list[dict], reported: set[tuple[str, str]]) -> list[dict]:
    """The release problems that no active error finding already reports ((file, rule id) of those)."""
    return [
        p
        for p in problems
        if not any(
            p["message"].startswith(prefix) and (p["file"], rule) in reported
            for prefix, rule in REPORTED_BY_RULE.items()
        )
    ]


def _with_severity(findings: list[EngineFinding], policy: Policy, dialect: str) -> list[EngineFinding]:
    """The history findings a policy keeps, at its severity."""
    kept = []
    for finding in findings:
        severity = policy.severity(finding.rule, dialect)
        if severity != "disabled":
            kept.append(dataclasses.replace(finding, severity=severity))
    return kept


def record_check(
    project: Project,
    files: list[tuple[str, bytes | str]],
    *,
    vcs: dict,
    dialect: str | None,
    fail_on: str,
    created_by: str,
) -> Check:
    groups = review_groups(project, dialect)
    history = history_findings(project, files)  # one read of the latest release, whatever the groups
    policies: dict[int | None, Policy] = {}
    merged: dict[tuple, Finding] = {}
    results: list[ReviewResult] = []
    # Reviewing is CPU work on the request's files only: done before, and outside, the
    # transaction, which then just writes rows (on SQLite it holds the write lock).
    for stored, name, env_slugs in groups:
        key = stored.pk if stored else None
        if key not in policies:
            policies[key] = engine_policy(stored) if stored else Policy.recommended()
        result = review_files(files, name, policies[key])
        results.append(result)
        for f in result.findings + _with_severity(history, policies[key], name):
            identity = (f.file, f.line, f.column, f.rule, f.severity, f.message, f.fingerprint, f.suppressed)
            row = merged.get(identity)
            if row is None:
                merged[identity] = Finding(
                    policy=stored,
                    environments=list(env_slugs),
                    rule_id=f.rule,
                    severity=f.severity,
                    message=f.message,
                    file=f.file,
                    line=f.line,
                    column=f.column,
                    end_line=f.end_line,
                    statement=f.statement,
                    fingerprint=f.fingerprint,
                    suppressed=f.suppressed,
                )
            else:
                row.environments += [slug for slug in env_slugs if slug not in row.environments]
    rows = list(merged.values())
    position = {
        slug: i
        for i, slug in enumerate(
            project.environments.order_by("order", "slug").values_list("slug", flat=True)
        )
    }
    for row in rows:
        row.environments.sort(key=lambda slug: position.get(slug, len(position)))
    active = [r for r in rows if not r.suppressed]
    # One problem, however many engines raised it (each in its own words): counted once.
    distinct = {(r.file, r.rule_id, r.line, r.column, r.severity, r.fingerprint): r.severity for r in active}
    counts = Counter(distinct.values())
    threshold = SEVERITY_RANK.get(fail_on)
    blocking = threshold is not None and any(SEVERITY_RANK.get(r.severity, 0) >= threshold for r in active)
    # The check's errors: what a release would refuse of the files (the engine refuses nothing itself).
    refused = _not_reported(release_problems(files),
                            {(r.file, r.rule_id) for r in rows if r.severity == "error" and not r.suppressed})
    blocking = blocking or (bool(refused) and threshold is not None)
    # Each file's risk: the highest any engine's reading gave it (its statements: the most any split).
    per_file: dict[str, dict] = {}
    for result in results:
        for review in result.files:
            entry = per_file.setdefault(review.path, {"file": review.path, "risk": "low", "statements": 0})
            entry["risk"] = max(entry["risk"], review.risk, key=RISK_RANK.__getitem__)
            entry["statements"] = max(entry["statements"], review.statements)
    summary = {
        # A file a release would refuse is an error too: it blocks like one.
        "errors": counts["error"] + len(refused),
        "warnings": counts["warning"],
        "infos": counts["info"],
        "files": len(files),
        "blocking": blocking,
        "risk": max((r.risk for r in results), key=RISK_RANK.__getitem__, default="low"),
    }
    with transaction.atomic():
        check = Check.objects.create(
            project=project,
            provider=vcs.get("provider", ""),
            repo=vcs.get("repo", ""),
            pull_request=vcs.get("pull_request", ""),
            head_sha=vcs.get("head_sha", ""),
            base_sha=vcs.get("base_sha", ""),
            url=vcs.get("url", ""),
            blocking=blocking,
            risk=summary["risk"],
            summary=summary,
            errors=refused,
            files=list(per_file.values()),
            created_by=created_by,
        )
        for row in rows:
            row.check_run = check
        Finding.objects.bulk_create(rows, batch_size=500)
    return check
