"""Connection targets from URLs: postgresql://…, mysql://…, sqlite:///path."""

from __future__ import annotations

import dataclasses
from urllib.parse import parse_qsl, quote, unquote, urlsplit

ENGINES = {
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
    "sqlite": "sqlite",
}
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}
# What a MySQL URL may carry: PyMySQL's TLS settings. (A PostgreSQL URL's parameters go to libpq,
# which refuses the ones it does not know; a SQLite URL takes none.)
MYSQL_PARAMETERS = ("ssl_ca", "ssl_cert", "ssl_key", "ssl_verify_cert", "ssl_verify_identity")
MYSQL_FLAGS = ("ssl_verify_cert", "ssl_verify_identity")
BOOLEANS = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False, "off": False}


class TargetError(ValueError):
    pass


@dataclasses.dataclass(frozen=True)
class Target:
    engine: str  # postgresql | mysql | sqlite
    database: str  # database name, or the file path for SQLite
    host: str = ""
    port: int | None = None
    user: str = ""
    password: str | None = dataclasses.field(default=None, repr=False)
    options: tuple[tuple[str, str], ...] = ()

    @property
    def dialect(self) -> str:
        return {"postgresql": "postgres", "mysql": "mysql", "sqlite": "sqlite"}[self.engine]

    @property
    def redacted(self) -> str:
        """The URL with the password masked: the only form that is ever printed or logged."""
        if self.engine == "sqlite":
            return f"sqlite:///{self.database}"
        auth = quote(self.user, safe="") + (":***" if self.password else "")
        port = f":{self.port}" if self.port else ""
        return f"{self.engine}://{auth}@{self.host}{port}/{self.database}"

    @property
    def label(self) -> str:
        """Short name for messages: database@host."""
        if self.engine == "sqlite":
            return self.database
        return f"{self.database}@{self.host}"

    def with_password(self, password: str | None) -> Target:
        return dataclasses.replace(self, password=password)


def parse_target(url: str) -> Target:
    if not url or "://" not in url:
        raise TargetError(
            "expected a URL such as postgresql://user@host:5432/db, mysql://user@host/db "
            "or sqlite:///path/to/file.sqlite3"
        )
    parts = urlsplit(url)
    engine = ENGINES.get(parts.scheme.split("+")[0].lower())
    if engine is None:
        raise TargetError(
            f"unsupported scheme {parts.scheme!r}: use postgresql://, mysql:// or sqlite:///"
        )
    options = tuple(parse_qsl(parts.query))
    if engine == "sqlite":
        # sqlite:///relative/path and sqlite:////absolute/path, as SQLAlchemy and dj-database-url.
        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        if parts.netloc:
            raise TargetError("a SQLite URL has no host: write sqlite:///relative or sqlite:////absolute")
        if not path:
            raise TargetError("a SQLite URL needs a file path: sqlite:///path/to/file.sqlite3")
        if options:
            raise TargetError(f"a SQLite URL takes no parameters (?{parts.query}): "
                              "write sqlite:///path/to/file.sqlite3")
        return Target(engine="sqlite", database=path, options=options)
    if engine == "mysql":
        _check_mysql_parameters(options)
    database = unquote(parts.path.lstrip("/"))
    if not database:
        raise TargetError(f"the URL names no database: add /<database> after the host ({engine}://user@host/db)")
    try:
        port = parts.port or DEFAULT_PORTS[engine]
    except ValueError:
        # Not the parser's words: they quote the text after the first ':', which can be a password
        # with an unescaped '/', '?' or '#' in it.
        raise TargetError(
            f"bad port in the {engine} URL (a password with '/', '?', '#' or '@' in it must be "
            "percent-encoded, e.g. %2F for '/')"
        ) from None
    return Target(
        engine=engine,
        database=database,
        host=parts.hostname or "localhost",
        port=port,
        user=unquote(parts.username or ""),
        password=unquote(parts.password) if parts.password is not None else None,
        options=options,
    )


def _check_mysql_parameters(options: tuple[tuple[str, str], ...]) -> None:
    # Never ignored silently: a TLS setting the connection did not use would be a lie.
    for name, value in options:
        if name not in MYSQL_PARAMETERS:
            raise TargetError(f"unsupported parameter {name!r} in the mysql URL: it accepts "
                              f"{', '.join(MYSQL_PARAMETERS)}")
        if name in MYSQL_FLAGS and value.lower() not in BOOLEANS:
            raise TargetError(f"{name} in the mysql URL takes true or false, not {value!r}")
