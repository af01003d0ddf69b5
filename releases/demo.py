"""The demo `manage.py up` seeds on first run: a project with test/staging/prod SQLite targets,
the sample migrations in `releases/demo_migrations/` applied to test, and an `admin` user."""

from __future__ import annotations

import dataclasses
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from releases.loader import load_dir
from releases.models import Database, Environment, Project, RolloutMode
from releases.runner import ApplyOptions, apply, history
from reviews.models import ReviewPolicy

DEMO_MIGRATIONS = Path(__file__).resolve().parent / "demo_migrations"
APPROVER_GROUP = "release-managers"
# slug, order, rollout mode, required approvals
ENVIRONMENTS = [
    ("test", 1, RolloutMode.AUTOMATIC, 0),
    ("staging", 2, RolloutMode.MANUAL, 1),
    ("prod", 3, RolloutMode.MANUAL, 2),
]


@dataclasses.dataclass
class DemoInfo:
    seeded: bool
    username: str = "admin"
    password: str | None = None  # set only when this call created the admin user; never stored
    applied: int = 0
    error: str = ""


def seed_demo() -> DemoInfo:
    """Create the demo once: does nothing when any project exists."""
    if Project.objects.exists():
        return DemoInfo(seeded=False)
    folder = Path(settings.VAR_DIR) / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    password = None
    with transaction.atomic():
        User = get_user_model()
        if not User.objects.filter(username="admin").exists():
            password = secrets.token_urlsafe(12)
            user = User.objects.create_superuser("admin", "admin@example.com", password)
        else:
            user = User.objects.get(username="admin")
        group, _ = Group.objects.get_or_create(name=APPROVER_GROUP)
        user.groups.add(group)
        policy, _ = ReviewPolicy.objects.get_or_create(
            name="recommended", defaults={"description": "The shipped default rules."}
        )
        project = Project.objects.create(
            slug="demo",
            name="Demo shop",
            migrations_dir=str(DEMO_MIGRATIONS.relative_to(settings.BASE_DIR)),
            default_policy=policy,
        )
        databases = {}
        for slug, order, mode, approvals in ENVIRONMENTS:
            environment = Environment.objects.create(
                project=project,
                slug=slug,
                name=slug.capitalize(),
                order=order,
                rollout=mode,
                required_approvals=approvals,
                approver_group=group if mode == RolloutMode.MANUAL else None,
            )
            # sqlite:////abs/path: four slashes, an absolute path.
            databases[slug] = Database.objects.create(
                environment=environment, name=f"shop-{slug}", url=f"sqlite:///{folder / f'{slug}.sqlite3'}"
            )
    info = DemoInfo(seeded=True, password=password)
    # The runner works outside the control-database transaction: it takes its own lock on the
    # target, and a failure there must not undo the seed (the demo is still browsable).
    target = databases["test"].target()
    try:
        report = apply(target, load_dir(DEMO_MIGRATIONS), ApplyOptions(applied_by="sluice up (demo)"))
        info.applied = len(report.applied)
        databases["test"].mirror_history(history(target))
    except Exception as exc:  # reported by `up`, which carries on without the history
        info.error = f"applying the demo migrations to {target.redacted} failed: {exc}"
    return info
