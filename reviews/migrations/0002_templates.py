"""The shipped policy templates as rows, so that environments can point at them.

Only the two ReviewPolicy rows: their rule settings stay in code (reviews/policy_io.py lays a
stored policy's rows over the template of the same name), so a rule added later needs no data
migration, and this migration does not depend on today's rule registry.
"""

from django.db import migrations

DESCRIPTIONS = {
    "recommended": "Every rule whose catalogue default is error, warning or info, at that severity.",
    "strict": "recommended, with warnings about data loss and locking raised to errors.",
}


def create_templates(apps, schema_editor):
    ReviewPolicy = apps.get_model("reviews", "ReviewPolicy")
    for name, description in DESCRIPTIONS.items():
        ReviewPolicy.objects.get_or_create(name=name, defaults={"description": description})


class Migration(migrations.Migration):
    dependencies = [("reviews", "0001_initial")]

    # Reversing keeps the rows: an environment may point at them, and they may have been edited.
    operations = [migrations.RunPython(create_templates, migrations.RunPython.noop)]
