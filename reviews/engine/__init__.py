"""The review engine: pure Python, no Django (usable offline and benchmarked alone).

    from reviews.engine import review_files, Policy
    result = review_files([("migrations/0001_x.sql", b"DROP TABLE users;")], "postgres", Policy.recommended())
    result.as_json()
"""

from reviews.native import extend

extend(__path__, __name__)  # the compiled build of its modules, when there is a current one (reviews.native)

# (After extend: each of these is the compiled module when the build is used. The rule families
# register their rules on import.)
import reviews.rules  # noqa: E402, F401
from reviews.engine.core import (  # noqa: E402, F401
    FileReview,
    Finding,
    ReviewResult,
    review_file,
    review_files,
)
from reviews.engine.policy import ALWAYS_ERRORS, TEMPLATES, Policy, check_setting  # noqa: E402, F401
from reviews.engine.registry import RULES, Hit, Rule  # noqa: E402, F401
