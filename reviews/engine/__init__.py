"""The review engine: pure Python, no Django (usable offline and benchmarked alone).

    from reviews.engine import review_files, Policy
    result = review_files([("migrations/0001_x.sql", b"DROP TABLE users;")], "postgres", Policy.recommended())
    result.as_json()
"""

# Register every rule family (they import the registry above, so this comes last).
import reviews.rules  # noqa: E402, F401
from reviews.engine.core import FileReview, Finding, ReviewResult, review_file, review_files  # noqa: F401
from reviews.engine.policy import ALWAYS_ERRORS, TEMPLATES, Policy, check_setting  # noqa: F401
from reviews.engine.registry import RULES, Hit, Rule  # noqa: F401
