"""Review policies (rule settings composed in the admin) and stored checks with findings."""

from __future__ import annotations

from django.db import models


class Severity(models.TextChoices):
    ERROR = "error", "Error (blocks)"
    WARNING = "warning", "Warning"
    INFO = "info", "Info"
    DISABLED = "disabled", "Disabled"


# A rule setting may also leave the severity to the rule: its catalogue default, which can differ
# by engine (Rule.severity_by_engine), so no one severity can stand for it.
DEFAULT_SEVERITY = "default"
SETTING_SEVERITIES = [(DEFAULT_SEVERITY, "Default (the rule's own, per engine)"), *Severity.choices]


class ReviewPolicy(models.Model):
    name = models.SlugField(unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "review policies"

    def __str__(self) -> str:
        return self.name


class RuleSetting(models.Model):
    policy = models.ForeignKey(ReviewPolicy, on_delete=models.CASCADE, related_name="rules")
    rule_id = models.CharField(max_length=100)
    severity = models.CharField(max_length=10, choices=SETTING_SEVERITIES)
    payload = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["policy", "rule_id"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "rule_id"], name="rule_setting_unique")
        ]

    def __str__(self) -> str:
        return f"{self.policy.name}: {self.rule_id}"


class Risk(models.TextChoices):
    LOW = "low", "Low"
    MODERATE = "moderate", "Moderate"
    HIGH = "high", "High"


class Check(models.Model):
    """One review of a pull request's files, against the policy of every environment."""

    project = models.ForeignKey("releases.Project", on_delete=models.CASCADE, related_name="checks")
    provider = models.CharField(max_length=20, blank=True)
    repo = models.CharField(max_length=300, blank=True)
    pull_request = models.CharField(max_length=50, blank=True)
    head_sha = models.CharField(max_length=64, blank=True)
    base_sha = models.CharField(max_length=64, blank=True)
    url = models.URLField(max_length=1000, blank=True)
    blocking = models.BooleanField(default=False)
    risk = models.CharField(max_length=10, choices=Risk.choices, default=Risk.LOW)
    summary = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(
        default=list, blank=True, help_text="What a release would refuse of the files: [{file, message, line?}]."
    )
    files = models.JSONField(
        default=list, blank=True, help_text="Each reviewed file with its risk level: [{file, risk, statements}]."
    )
    created_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"check {self.pk} of {self.project.slug}"


class Finding(models.Model):
    check_run = models.ForeignKey(Check, on_delete=models.CASCADE, related_name="findings")
    policy = models.ForeignKey(
        ReviewPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    environments = models.JSONField(
        default=list, blank=True, help_text="Slugs of the environments whose policy raised it."
    )
    rule_id = models.CharField(max_length=100, db_index=True)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    message = models.TextField()
    file = models.CharField(max_length=1000)
    line = models.PositiveIntegerField()
    column = models.PositiveIntegerField()
    end_line = models.PositiveIntegerField()
    statement = models.TextField(blank=True)
    fingerprint = models.CharField(max_length=64)
    suppressed = models.BooleanField(default=False)

    class Meta:
        ordering = ["check_run", "file", "line"]

    def __str__(self) -> str:
        return f"{self.rule_id} at {self.file}:{self.line}"
