"""Every rule family registers its rules on import (one module per catalogue section)."""

from reviews.rules import (  # noqa: F401
    compat,
    design,
    destructive,
    dml,
    locking,
    mysql,
    naming,
    security,
    sqlite,
    system,
    transactions,
)
