"""Every rule family registers its rules on import (one module per catalogue section)."""

from reviews.native import extend

extend(__path__, __name__)  # the compiled build of its modules, when there is a current one (reviews.native)

from reviews.rules import (  # noqa: E402, F401
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
