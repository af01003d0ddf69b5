"""MariaDB-flavoured migrations under `--dialect mysql`: statements that MariaDB 10.11 accepts (checked on
the live server), each reviewed alone as a file with the recommended policy, its rule set asserted
exactly. No MariaDB form is a `system.syntax-error`: what the parser cannot read is an honest
`system.parse-unsupported` (info). Tables `t` and `p` and sequence `s0` exist (SETUP); any other
table is created in the case's own file.
"""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from reviews.engine import Policy, review_file
from reviews.splitter import split

SETUP = [
    "CREATE TABLE t (id bigint PRIMARY KEY, name varchar(20), note text) ENGINE=InnoDB",
    "CREATE TABLE p (id bigint PRIMARY KEY) ENGINE=InnoDB",
    "CREATE SEQUENCE s0",
]
ALGORITHM, LOCK = "statement.require-algorithm-option", "statement.require-lock-option"
COPY, BLOCKING = "statement.disallow-offline-ddl", "statement.disallow-blocking-lock-option"
INNODB, CHARSET, UNSUPPORTED = "engine.mysql.use-innodb", "system.charset.allowlist", "system.parse-unsupported"
VALIDATED = "constraint.mysql.add-validated-constraint"
TIMEOUT = "statement.max-execution-time"
DROP = "table.disallow-drop"

CASES = {
    "add-column-if-not-exists": ("ALTER TABLE t ADD COLUMN IF NOT EXISTS email varchar(100), ALGORITHM=INSTANT;", set()),
    "drop-column-if-exists": ("ALTER TABLE t DROP COLUMN IF EXISTS note, ALGORITHM=INSTANT;", {"column.disallow-drop"}),
    "add-index-if-not-exists": ("ALTER TABLE t ADD INDEX IF NOT EXISTS idx_t_name (name), ALGORITHM=NOCOPY, LOCK=NONE;",
                                set()),
    "nocopy-without-lock": ("ALTER TABLE t ADD COLUMN IF NOT EXISTS x int, ALGORITHM=NOCOPY;", {LOCK}),
    "instant-with-lock-none": ("ALTER TABLE t ADD COLUMN x int, ALGORITHM=INSTANT, LOCK=NONE;", set()),
    # (Of a table the file did not create: it drops the existing one first.)
    "create-or-replace-table": ("CREATE OR REPLACE TABLE t2 (id bigint PRIMARY KEY) ENGINE=InnoDB DEFAULT "
                                "CHARSET=utf8mb4;", {DROP}),
    "create-or-replace-table-myisam": ("CREATE OR REPLACE TABLE t2 (id bigint PRIMARY KEY) ENGINE=MyISAM DEFAULT "
                                       "CHARSET=latin1;", {INNODB, CHARSET, DROP}),
    "alter-wait": ("ALTER TABLE t WAIT 5 ENGINE=MyISAM;", {INNODB, ALGORITHM, LOCK}),
    "alter-nowait-copy": ("ALTER TABLE t NOWAIT ADD COLUMN x int, ALGORITHM=COPY;", {COPY, LOCK}),
    "alter-if-exists-wait": ("ALTER TABLE IF EXISTS t WAIT 2 ADD COLUMN IF NOT EXISTS x int, ALGORITHM=INSTANT;", set()),
    "alter-if-exists-no-options": ("ALTER ONLINE TABLE IF EXISTS t NOWAIT ADD COLUMN x int;", {ALGORITHM, LOCK}),
    "create-index-if-not-exists-copy": ("CREATE INDEX IF NOT EXISTS idx_t_name ON t (name) ALGORITHM=COPY;", {COPY}),
    "create-or-replace-index-shared": ("CREATE OR REPLACE INDEX idx_t_name ON t (name) WAIT 2 LOCK=SHARED;",
                                       {BLOCKING}),
    "create-or-replace-database": ("CREATE OR REPLACE DATABASE sluice_mariadb_shop CHARACTER SET latin1;",
                                   {CHARSET, "database.disallow-drop"}),
    "add-check-if-not-exists": ("ALTER TABLE t ADD CONSTRAINT IF NOT EXISTS chk_t_id CHECK (id > 0), ALGORITHM=COPY, "
                                "LOCK=SHARED;", {VALIDATED, COPY, BLOCKING}),
    "add-foreign-key-if-not-exists": ("ALTER TABLE t ADD COLUMN pid bigint, ADD FOREIGN KEY IF NOT EXISTS fk_t_p (pid) "
                                      "REFERENCES p (id), ALGORITHM=COPY, LOCK=SHARED;",
                                      {VALIDATED, COPY, BLOCKING}),
    "create-sequence": ("CREATE SEQUENCE IF NOT EXISTS order_seq START WITH 1000 INCREMENT BY 1 CACHE 100;", set()),
    "nextval": ("INSERT INTO t (id, name) VALUES (NEXTVAL(s0), 'a');", set()),
    "next-value-for": ("INSERT INTO t (id, name) VALUES (NEXT VALUE FOR s0, 'a');", {UNSUPPORTED}),
    "system-versioning": ("CREATE TABLE audit (id bigint PRIMARY KEY, v int) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 "
                          "WITH SYSTEM VERSIONING;", set()),
    # (A copy: MariaDB refuses ALGORITHM=INPLACE for it.)
    "add-system-versioning": ("ALTER TABLE t ADD SYSTEM VERSIONING;", {ALGORITHM, LOCK}),
    "invisible-column": ("ALTER TABLE t ADD COLUMN secret varchar(20) INVISIBLE, ALGORITHM=INSTANT;", set()),
    "json-check": ("CREATE TABLE j (id bigint PRIMARY KEY, doc JSON CHECK (JSON_VALID(doc))) DEFAULT CHARSET=utf8mb4;",
                   set()),
    "add-json-check": ("ALTER TABLE t ADD COLUMN doc JSON CHECK (JSON_VALID(doc)), ALGORITHM=INSTANT;", set()),
    "inet6-uuid": ("CREATE TABLE n (id bigint PRIMARY KEY, ip INET6 NOT NULL, u UUID NOT NULL DEFAULT UUID());",
                   {UNSUPPORTED}),
    "uca1400-collation": ("CREATE TABLE c (id bigint PRIMARY KEY) DEFAULT CHARSET=utf8mb4 "
                          "COLLATE=utf8mb4_uca1400_ai_ci;", set()),
    "insert-returning": ("INSERT INTO t (id, name) VALUES (5, 'x') RETURNING id, name;", set()),
    "delete-returning": ("DELETE FROM t WHERE id = 5 RETURNING id;", set()),
    "executable-comment": ("/*M!100100 ALTER TABLE t ENGINE=MyISAM */;", {INNODB, ALGORITHM, LOCK}),
    "executable-comment-option": ("CREATE TABLE k (id bigint PRIMARY KEY) ENGINE=InnoDB "
                                  "/*M!100100 DEFAULT CHARSET=latin1 */;", {CHARSET}),
    "max-statement-time": ("SET SESSION max_statement_time = 60;\nDELETE FROM t WHERE id = 1;", set()),
    "trigger-follows": ("CREATE TRIGGER t_bi BEFORE INSERT ON t FOR EACH ROW SET NEW.name = 'x';\n"
                        "CREATE TRIGGER t_bi2 BEFORE INSERT ON t FOR EACH ROW FOLLOWS t_bi SET NEW.note = 'y';", set()),
    # A routine's body does not run at migration time: not linted.
    "procedure": ("DELIMITER $$\nCREATE PROCEDURE fill()\nBEGIN\n  DELETE FROM t;\n  ALTER TABLE t ENGINE=MyISAM;\n"
                  "END$$\nDELIMITER ;", set()),
    "begin-not-atomic": ("DELIMITER $$\nBEGIN NOT ATOMIC\n  IF NOT EXISTS (SELECT 1 FROM information_schema.columns "
                         "WHERE table_schema = DATABASE() AND table_name = 't' AND column_name = 'z') THEN\n"
                         "    ALTER TABLE t ADD COLUMN z int;\n  END IF;\nEND$$\nDELIMITER ;", {UNSUPPORTED}),
    # CREATE OR REPLACE TABLE makes a new table: an ALTER of it is no change of an existing one.
    "alter-after-create-or-replace": ("CREATE OR REPLACE TABLE t2 (id bigint PRIMARY KEY) ENGINE=InnoDB DEFAULT "
                                      "CHARSET=utf8mb4;\nALTER TABLE t2 ADD COLUMN x int;", {DROP}),
    # CREATE OR REPLACE TABLE of an existing table drops it (table.disallow-drop).
    "create-or-replace-existing-table": ("CREATE OR REPLACE TABLE t (id bigint PRIMARY KEY) ENGINE=InnoDB DEFAULT "
                                         "CHARSET=utf8mb4;", {DROP}),
    # SET STATEMENT … FOR <statement>: the statement is reviewed (its max_statement_time bounds it alone).
    "set-statement-for": ("SET STATEMENT max_statement_time=60 FOR ALTER TABLE t ENGINE=MyISAM;",
                          {INNODB, ALGORITHM, LOCK}),
    # The compatibility rules do not read MODIFY/CHANGE COLUMN IF EXISTS.
    # (Without NOT NULL, the column comes out nullable: column.disallow-drop-not-null's hedged warning.)
    "modify-if-exists": ("ALTER TABLE t MODIFY COLUMN IF EXISTS name varchar(40), ALGORITHM=INPLACE, LOCK=NONE;",
                         {"column.disallow-change-type", "column.disallow-drop-not-null"}),
    "change-if-exists": ("ALTER TABLE t CHANGE COLUMN IF EXISTS name title varchar(20), ALGORITHM=INSTANT;",
                         {"column.disallow-change", "column.disallow-rename", "column.disallow-change-type",
                          "column.disallow-drop-not-null"}),
}



def rules(sql: str, policy: Policy) -> set[str]:
    review = review_file("0001_mariadb.sql", sql, "mysql", policy)
    return {f.rule for f in review.findings if not f.suppressed}


@pytest.mark.parametrize("name", CASES)
def test_mariadb_statement_rule_set(name):
    sql, expected = CASES[name]
    assert rules(sql, Policy.recommended()) == expected


@pytest.mark.parametrize("name", CASES)
def test_no_mariadb_form_is_a_syntax_error(name):
    sql = CASES[name][0]
    assert "system.syntax-error" not in rules(sql, Policy.everything())


@pytest.mark.parametrize(("sql", "flagged"), [
    ("SET SESSION max_statement_time = 60;\nDELETE FROM t WHERE id = 1;", False),
    ("SET @@session.max_statement_time = 60;\nALTER TABLE t ADD COLUMN x int, ALGORITHM=INSTANT;", False),
    ("SET max_statement_time = 0;\nDELETE FROM t WHERE id = 1;", True),
    ("ALTER TABLE IF EXISTS t WAIT 2 ADD COLUMN x int, ALGORITHM=INSTANT;", True),
    # For the one statement only; lock_wait_timeout bounds only its lock wait; 0 is no timeout.
    ("SET STATEMENT max_statement_time=60 FOR DELETE FROM t WHERE id = 1;", False),
    ("SET STATEMENT max_statement_time=60 FOR DELETE FROM t WHERE id = 1;\nDELETE FROM t WHERE id = 2;", True),
    ("SET STATEMENT lock_wait_timeout=5 FOR ALTER TABLE t ADD COLUMN x int, ALGORITHM=INSTANT;", True),
    ("SET STATEMENT max_statement_time=0 FOR DELETE FROM t WHERE id = 1;", True),
])
def test_max_statement_time_counts_as_the_statement_timeout(sql, flagged):
    assert (TIMEOUT in rules(sql, Policy.from_rows("p", [(TIMEOUT, "warning", {})]))) is flagged


@pytest.mark.parametrize("name", CASES)
def test_mariadb_accepts_the_statement(name, mysql_url):
    import pymysql

    url = urlparse(mysql_url)
    database = url.path.lstrip("/")
    sql = CASES[name][0].replace("sluice_mariadb_shop", database)  # (a database the fixture drops)
    connection = pymysql.connect(host=url.hostname, port=url.port, user=url.username, password="",
                                 database=database, autocommit=True)
    with connection, connection.cursor() as cursor:
        cursor.execute("SELECT VERSION()")
        if "mariadb" not in cursor.fetchone()[0].lower():
            pytest.skip("MariaDB syntax: the server is not MariaDB")
        for statement in SETUP:
            cursor.execute(statement)
        for statement in split(sql, "mysql"):
            cursor.execute(statement.text)
