from __future__ import annotations

import pytest

from reviews.engine import Policy
from reviews.engine.registry import RULES
from tests.reviews.rules.helpers import findings, flags


def one(sql: str, rule: str, dialect: str = "mysql", policy: Policy | None = None):
    found = findings(sql, dialect, rule, policy)
    assert len(found) == 1, [f.message for f in found]
    return found[0]


# -- engine.mysql.use-innodb ------------------------------------------------------------------------


def test_myisam_table_is_an_error():
    found = one("CREATE TABLE audit_log (id bigint PRIMARY KEY) ENGINE=MyISAM;", "engine.mysql.use-innodb")
    assert found.severity == "error"
    assert "audit_log uses ENGINE=MyISAM" in found.message and "use ENGINE=InnoDB" in found.message


def test_alter_table_engine_and_default_storage_engine():
    assert "ENGINE=MEMORY" in one("ALTER TABLE t ENGINE = MEMORY;", "engine.mysql.use-innodb").message
    assert "keep InnoDB" in one("SET SESSION default_storage_engine = MyISAM;", "engine.mysql.use-innodb").message


def test_innodb_and_temporary_tables_are_fine():
    assert not flags("CREATE TABLE t (id bigint PRIMARY KEY) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;", "mysql",
                     "engine.mysql.use-innodb")
    assert not flags("CREATE TEMPORARY TABLE scratch (id int) ENGINE=MEMORY;", "mysql", "engine.mysql.use-innodb")
    assert not flags("INSERT INTO t (engine) VALUES ('ENGINE=MyISAM');", "mysql", "engine.mysql.use-innodb")


# -- system.charset.allowlist / system.collation.allowlist ------------------------------------------------


@pytest.mark.parametrize("charset", ["utf8", "utf8mb3", "latin1"])
def test_charset_outside_the_allowlist(charset):
    found = one(f"CREATE TABLE notes (body text) DEFAULT CHARSET={charset};", "system.charset.allowlist")
    assert found.severity == "warning"
    assert f"character set {charset} is not in the allowlist" in found.message and "use utf8mb4" in found.message


def test_charset_in_columns_convert_and_databases():
    assert flags("ALTER TABLE t CONVERT TO CHARACTER SET latin1;", "mysql", "system.charset.allowlist")
    assert flags("ALTER TABLE t MODIFY name varchar(20) CHARACTER SET utf8;", "mysql", "system.charset.allowlist")
    assert flags("CREATE DATABASE shop CHARACTER SET latin1;", "mysql", "system.charset.allowlist")


def test_utf8mb4_and_strings_are_fine():
    assert not flags("CREATE TABLE notes (body text CHARACTER SET utf8mb4) DEFAULT CHARSET=utf8mb4 "
                     "COLLATE=utf8mb4_0900_ai_ci;", "mysql", "system.charset.allowlist")
    assert not flags("UPDATE t SET note = 'CHARSET=latin1' WHERE id = 1;", "mysql", "system.charset.allowlist")


def test_charset_allowlist_payload():
    policy = Policy.from_rows("p", [("system.charset.allowlist", "warning", {"allowlist": ["utf8mb4", "latin1"]})])
    assert not findings("CREATE TABLE t (a text) CHARSET=latin1;", "mysql", "system.charset.allowlist", policy)
    assert RULES["system.charset.allowlist"].engines == frozenset({"mysql", "postgres"})


def test_postgres_database_encoding():
    found = one("CREATE DATABASE shop WITH ENCODING = 'LATIN1';", "system.charset.allowlist", "postgres")
    assert found.severity == "warning" and "encoding LATIN1 is not in the allowlist" in found.message
    assert not flags("CREATE DATABASE shop ENCODING 'UTF-8';", "postgres", "system.charset.allowlist")
    assert not flags("CREATE DATABASE shop ENCODING utf8;", "postgres", "system.charset.allowlist")


def test_collation_allowlist_is_opt_in():
    assert RULES["system.collation.allowlist"].severity == "disabled"
    found = one("CREATE TABLE t (a text COLLATE latin1_swedish_ci);", "system.collation.allowlist")
    assert found.severity == "warning" and "collation latin1_swedish_ci is not in the allowlist" in found.message
    assert not flags("CREATE TABLE t (a text) COLLATE=utf8mb4_0900_ai_ci;", "mysql", "system.collation.allowlist")
    assert not findings("CREATE TABLE t (a text COLLATE latin1_swedish_ci);", "mysql", "system.collation.allowlist",
                        Policy.recommended())


def test_postgres_collation_only_with_an_allowlist():
    sql = 'CREATE TABLE t (a text COLLATE "de_DE");'
    assert not flags(sql, "postgres", "system.collation.allowlist")
    policy = Policy.from_rows("p", [("system.collation.allowlist", "warning", {"postgres_allowlist": ["C"]})])
    [found] = findings(sql, "postgres", "system.collation.allowlist", policy)
    assert "collation de_DE" in found.message
    assert not findings('CREATE TABLE t (a text COLLATE "C");', "postgres", "system.collation.allowlist", policy)


# -- require / disallow charset and collation (opt-in) ----------------------------------------------------


def test_table_require_charset_and_collation():
    sql = "CREATE TABLE notes (id bigint PRIMARY KEY);"
    assert "add DEFAULT CHARSET=utf8mb4" in one(sql, "table.require-charset").message
    assert "add COLLATE=" in one(sql, "table.require-collation").message
    complete = "CREATE TABLE notes (id bigint PRIMARY KEY) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci;"
    assert not flags(complete, "mysql", "table.require-charset")
    assert not flags(complete, "mysql", "table.require-collation")
    assert not flags("CREATE TABLE notes_copy LIKE notes;", "mysql", "table.require-charset")


def test_column_require_charset():
    found = one("CREATE TABLE notes (id bigint, body varchar(100));", "column.require-charset")
    assert found.severity == "warning" and "column body (VARCHAR)" in found.message
    assert not flags("CREATE TABLE notes (id bigint, body varchar(100) CHARACTER SET utf8mb4);", "mysql",
                     "column.require-charset")


def test_column_require_charset_accepts_a_collation():
    # (osTicket 934954de-f1ccd3bb: `varchar(86) COLLATE ascii_bin` is an ascii column; MySQL rejects
    # the advised CHARACTER SET utf8mb4 beside it)
    assert not flags("ALTER TABLE t ADD `signature` VARCHAR(86) COLLATE ascii_bin AFTER `key`;", "mysql",
                     "column.require-charset")
    assert flags("ALTER TABLE t ADD `signature` VARCHAR(86) AFTER `key`;", "mysql", "column.require-charset")


def test_charset_and_collation_named_by_a_string():
    # (hydra 20220210000001000000_nid: CHARACTER SET 'ascii'; gh-ost localtests/enum: collate 'utf8_bin')
    sql = "ALTER TABLE hydra_jwk MODIFY `kid` varchar(255) CHARACTER SET 'ascii' NOT NULL;"
    assert not flags(sql, "mysql", "column.require-charset")
    assert "character set ascii is not in the allowlist" in one(sql, "system.charset.allowlist").message
    assert "sets its character set (ascii)" in one(sql, "column.disallow-set-charset").message
    sql = "CREATE TABLE t (id int PRIMARY KEY, e enum('red', 'blue') NULL DEFAULT NULL COLLATE 'utf8_bin');"
    assert "collation utf8_bin is not" in one(sql, "system.collation.allowlist").message
    assert "(utf8mb4)" in one("CREATE TABLE t (id int) DEFAULT CHARSET 'utf8mb4';", "table.disallow-set-charset").message
    assert not flags("CREATE TABLE t (id int) DEFAULT CHARSET 'utf8mb4';", "mysql", "table.require-charset")
    assert not flags("CREATE TABLE t (a varchar(9) COLLATE 'utf8mb4_bin');", "mysql", "system.collation.allowlist")


def test_disallow_set_charset():
    assert "table notes sets its character set (latin1)" in one(
        "CREATE TABLE notes (id int) DEFAULT CHARSET=latin1;", "table.disallow-set-charset").message
    assert flags("ALTER TABLE notes CONVERT TO CHARACTER SET utf8mb4;", "mysql", "table.disallow-set-charset")
    assert "column body sets its character set" in one(
        "ALTER TABLE notes ADD COLUMN body text CHARACTER SET utf8mb4;", "column.disallow-set-charset").message
    assert not flags("CREATE TABLE notes (body text);", "mysql", "table.disallow-set-charset")
    assert not flags("CREATE TABLE notes (body text) CHARSET=utf8mb4;", "mysql", "column.disallow-set-charset")


@pytest.mark.parametrize("rule_id", ["table.require-charset", "table.require-collation", "column.require-charset",
                                     "table.disallow-set-charset", "column.disallow-set-charset",
                                     "system.collation.allowlist"])
def test_opt_in_rules_are_off_by_default(rule_id):
    assert RULES[rule_id].severity == "disabled" and RULES[rule_id].implemented


# -- ALGORITHM= / LOCK= ----------------------------------------------------------------------------------


def test_alter_without_algorithm_and_lock():
    sql = "ALTER TABLE orders ADD COLUMN note varchar(200);"
    found = one(sql, "statement.require-algorithm-option")
    assert found.severity == "warning" and "add ALGORITHM=INSTANT" in found.message
    found = one(sql, "statement.require-lock-option")
    assert found.severity == "warning" and "add LOCK=NONE" in found.message


def test_algorithm_and_lock_stated():
    sql = "ALTER TABLE orders ADD INDEX idx_note (note), ALGORITHM=INPLACE, LOCK=NONE;"
    assert not flags(sql, "mysql", "statement.require-algorithm-option")
    assert not flags(sql, "mysql", "statement.require-lock-option")


@pytest.mark.parametrize("sql", [
    "ALTER TABLE `shop_customer` ALTER COLUMN `active` DROP DEFAULT;",  # Django's AddField with a default
    "ALTER TABLE t ALTER COLUMN a SET DEFAULT 5, ALTER b DROP DEFAULT;",
    "ALTER TABLE t ALTER COLUMN a SET INVISIBLE;",
])
def test_metadata_only_changes_need_no_algorithm_or_lock(sql):
    # A column's default or visibility changes only the metadata (MariaDB 10.11: ALGORITHM=INSTANT).
    assert not flags(sql, "mysql", "statement.require-algorithm-option")
    assert not flags(sql, "mysql", "statement.require-lock-option")
    mixed = "ALTER TABLE t ALTER COLUMN a SET DEFAULT 5, ADD COLUMN b int;"
    assert flags(mixed, "mysql", "statement.require-algorithm-option") and flags(mixed, "mysql", "statement.require-lock-option")


def test_lock_not_required_with_instant():
    sql = "ALTER TABLE orders ADD COLUMN note varchar(200), ALGORITHM=INSTANT;"
    assert not flags(sql, "mysql", "statement.require-lock-option")
    assert not flags(sql, "mysql", "statement.require-algorithm-option")


def test_default_is_as_good_as_nothing():
    assert flags("ALTER TABLE orders DROP INDEX idx_note, ALGORITHM=DEFAULT, LOCK=DEFAULT;", "mysql",
                 "statement.require-algorithm-option")


def test_new_tables_need_no_options():
    sql = "CREATE TABLE t (id bigint PRIMARY KEY);\nALTER TABLE t ADD COLUMN note text, ALGORITHM=COPY, LOCK=SHARED;"
    for rule_id in ("statement.require-algorithm-option", "statement.require-lock-option",
                    "statement.disallow-offline-ddl", "statement.disallow-blocking-lock-option"):
        assert not flags(sql, "mysql", rule_id), rule_id


def test_algorithm_copy():
    found = one("ALTER TABLE orders MODIFY note text, ALGORITHM=COPY;", "statement.disallow-offline-ddl")
    assert found.severity == "error" and "ALGORITHM=COPY copies table orders" in found.message
    assert "gh-ost" in found.message
    assert flags("CREATE INDEX idx ON orders (note) ALGORITHM=COPY;", "mysql", "statement.disallow-offline-ddl")
    assert not flags("ALTER TABLE orders MODIFY note text, ALGORITHM=INPLACE;", "mysql",
                     "statement.disallow-offline-ddl")


@pytest.mark.parametrize(("lock", "phrase"), [("SHARED", "blocks writes"), ("EXCLUSIVE", "blocks reads and writes")])
def test_blocking_lock_options(lock, phrase):
    found = one(f"ALTER TABLE orders ADD INDEX idx (note), LOCK={lock};", "statement.disallow-blocking-lock-option")
    assert found.severity == "error" and phrase in found.message and "use LOCK=NONE" in found.message


def test_blocking_lock_on_drop_index_and_near_miss():
    assert flags("DROP INDEX idx ON orders ALGORITHM=INPLACE LOCK=EXCLUSIVE;", "mysql",
                 "statement.disallow-blocking-lock-option")
    assert not flags("ALTER TABLE orders ADD INDEX idx (note), LOCK=NONE;", "mysql",
                     "statement.disallow-blocking-lock-option")
    assert not flags("LOCK TABLES orders WRITE;", "mysql", "statement.disallow-blocking-lock-option")


# -- columns and constraints --------------------------------------------------------------------------------


def test_positioned_add_column():
    found = one("ALTER TABLE orders ADD COLUMN note varchar(200) AFTER id;", "statement.add-column-without-position")
    assert found.severity == "info" and "AFTER id" in found.message and "append the column" in found.message
    assert flags("ALTER TABLE orders ADD note int FIRST;", "mysql", "statement.add-column-without-position")
    assert not flags("ALTER TABLE orders ADD COLUMN note varchar(200);", "mysql",
                     "statement.add-column-without-position")
    assert not flags("ALTER TABLE orders MODIFY note varchar(300) AFTER id;", "mysql",
                     "statement.add-column-without-position")


def test_expression_default_on_existing_table():
    found = one("ALTER TABLE orders ADD COLUMN token char(36) DEFAULT (uuid());",
                "column.mysql.default-disallow-expression")
    assert found.severity == "warning" and "SET DEFAULT" in found.message and "token" in found.message
    assert not flags("ALTER TABLE orders ADD COLUMN n int DEFAULT 0;", "mysql", "column.mysql.default-disallow-expression")
    assert not flags("CREATE TABLE t (id int);\nALTER TABLE t ADD COLUMN token char(36) DEFAULT (uuid());", "mysql",
                     "column.mysql.default-disallow-expression")


def test_expression_default_advice_for_a_not_null_column_keeps_a_default():
    # Django's db_default=Now(): without any default the NOT NULL add fails under MySQL 8's sql_mode (1292),
    # which column.add-not-null-require-default reports as an error; a constant default keeps it instant.
    found = one("ALTER TABLE book ADD COLUMN updated datetime(6) DEFAULT (CURRENT_TIMESTAMP(6)) NOT NULL;",
                "column.mysql.default-disallow-expression")
    assert "add the column with a constant DEFAULT instead (a valid value: for a date, not the zero date)" in found.message
    assert "without it" not in found.message
    nullable = one("ALTER TABLE book ADD COLUMN token char(36) DEFAULT (uuid());", "column.mysql.default-disallow-expression")
    assert "add the column without it (or with a constant DEFAULT)" in nullable.message


def test_inline_references_are_ignored():
    found = one("CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint REFERENCES customers (id));",
                "column.mysql.inline-references-ignored")
    assert found.severity == "error" and "customer_id REFERENCES customers" in found.message
    assert "FOREIGN KEY (customer_id)" in found.message
    assert flags("ALTER TABLE orders ADD COLUMN customer_id bigint REFERENCES customers(id);", "mysql",
                 "column.mysql.inline-references-ignored")


def test_table_level_foreign_key_is_fine():
    assert not flags("CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint, "
                     "CONSTRAINT fk FOREIGN KEY (customer_id) REFERENCES customers (id));", "mysql",
                     "column.mysql.inline-references-ignored")


def test_add_foreign_key_and_check_on_existing_table():
    found = one("ALTER TABLE orders ADD CONSTRAINT fk_c FOREIGN KEY (customer_id) REFERENCES customers (id);",
                "constraint.mysql.add-validated-constraint")
    assert found.severity == "warning" and "ADD FOREIGN KEY on table orders" in found.message
    assert "online schema tool" in found.message
    found = one("ALTER TABLE orders ADD CHECK (total >= 0);", "constraint.mysql.add-validated-constraint")
    assert "ADD CHECK on table orders" in found.message


def test_validated_constraint_near_misses():
    rule_id = "constraint.mysql.add-validated-constraint"
    assert not flags("CREATE TABLE o (id int);\nALTER TABLE o ADD FOREIGN KEY (id) REFERENCES c (id);", "mysql", rule_id)
    assert not flags("ALTER TABLE orders ADD CONSTRAINT ck CHECK (total >= 0) NOT ENFORCED;", "mysql", rule_id)
    assert not flags("SET foreign_key_checks = 0;\nALTER TABLE orders ADD FOREIGN KEY (c) REFERENCES c (id);", "mysql",
                     rule_id)
    assert flags("SET foreign_key_checks = 0;\nSET foreign_key_checks = 1;\n"
                 "ALTER TABLE orders ADD FOREIGN KEY (c) REFERENCES c (id);", "mysql", rule_id)


# -- ENUM / SET ------------------------------------------------------------------------------------------------

ADD_STATE = "ALTER TABLE orders ADD COLUMN state ENUM('new','paid'), ALGORITHM=INSTANT;\n"


@pytest.mark.parametrize(("new", "phrase"), [
    ("ENUM('new','pending','paid')", "inserts values before the end"),
    ("ENUM('paid','new')", "reorders the values"),
    ("ENUM('new')", "removes 'paid'"),
])
def test_enum_change_known_from_the_same_file(new, phrase):
    found = one(ADD_STATE + f"ALTER TABLE orders MODIFY state {new};", "column.mysql.enum-set-change-copy")
    assert found.severity == "info" and phrase in found.message and "only append values" in found.message
    assert found.line == 2


def test_enum_append_and_unknown_definitions_are_fine():
    rule_id = "column.mysql.enum-set-change-copy"
    assert not flags(ADD_STATE + "ALTER TABLE orders MODIFY state ENUM('new','paid','void');", "mysql", rule_id)
    assert not flags("ALTER TABLE orders MODIFY state ENUM('paid','new');", "mysql", rule_id)
    assert not flags("CREATE TABLE o (state ENUM('a','b'));\nALTER TABLE o MODIFY state ENUM('b','a');", "mysql", rule_id)


def test_set_crossing_a_storage_boundary_and_change_column():
    eight = ",".join(f"'v{i}'" for i in range(8))
    nine = ",".join(f"'v{i}'" for i in range(9))
    sql = f"ALTER TABLE t ADD COLUMN flags SET({eight});\nALTER TABLE t CHANGE flags flags2 SET({nine});"
    assert "storage 1 → 2 bytes" in one(sql, "column.mysql.enum-set-change-copy").message


def test_online_migration_is_declared_but_needs_a_database():
    declared = RULES["advice.online-migration"]
    assert declared.needs_database and not declared.implemented and declared.severity == "disabled"


def test_mysql_rules_are_mysql_only():
    sql = "ALTER TABLE orders ADD COLUMN note varchar(200) AFTER id;"
    assert not flags(sql, "postgres", "statement.require-algorithm-option")
    assert not flags(sql, "sqlite", "statement.add-column-without-position")


@pytest.mark.parametrize("sql, rule", [
    ("create index i on t (a) algorithm = copy;", "statement.disallow-offline-ddl"),  # lower case
    ("DROP INDEX i ON t -- why\n LOCK=SHARED;", "statement.disallow-blocking-lock-option"),  # after a comment
    ("CREATE TABLE t (a varchar(10) COMMENT 'it\\'s', b text CHARACTER SET latin1);", "system.charset.allowlist"),
    ("CREATE TABLE t (a int, b int REFERENCES c (id));", "column.mysql.inline-references-ignored"),
])
def test_ddl_reading_gate_near_misses(sql, rule):
    assert flags(sql, "mysql", rule)


def test_word_gates_see_words_that_a_backslash_escape_hides_from_the_normalized_text():
    # A backslash-escaped quote (st.norm once read it as PostgreSQL does and swallowed the words after it).
    # The gates of the charset and inline-REFERENCES rules must still see them (in any case).
    sql = "CREATE TABLE t (a text COMMENT 'it\\'s', b text character\n set latin1 COMMENT 'x');"
    assert flags(sql, "mysql", "system.charset.allowlist")
    sql = "CREATE TABLE t (a int COMMENT 'it\\'s', b int references u (id) COMMENT 'x');"
    assert flags(sql, "mysql", "column.mysql.inline-references-ignored")
    assert not flags("CREATE TABLE t (a int COMMENT 'references charset');", "mysql",
                     "column.mysql.inline-references-ignored")


def test_column_findings_point_at_their_column():
    sql = ("ALTER TABLE orders\n  ADD COLUMN note varchar(20) CHARACTER SET latin1 AFTER id,\n"
           "  ADD COLUMN `created` datetime DEFAULT (now()), -- note varchar here\n"
           "  ADD COLUMN customer_id bigint REFERENCES customers (id);\n")
    where = {(f.rule, f.line, f.column) for f in findings(sql, "mysql")}
    assert {("statement.add-column-without-position", 2, 14), ("column.disallow-set-charset", 2, 14),
            ("column.mysql.default-disallow-expression", 3, 14),
            ("column.mysql.inline-references-ignored", 4, 14)} <= where
    # the same words in a string or a `#` comment (MySQL's) do not count
    in_string = "ALTER TABLE t ADD COLUMN c int REFERENCES u (id) COMMENT 'c int';"
    in_comment = "ALTER TABLE t ADD COLUMN c int # c int\n  REFERENCES u (id);"
    for sql, position in ((in_string, (1, 26)), (in_comment, (1, 26))):
        assert [(f.line, f.column) for f in findings(sql, "mysql", "column.mysql.inline-references-ignored")] \
            == [position]


def test_charset_findings_point_at_the_clause():
    sql = ("CREATE TABLE t (\n  id int PRIMARY KEY,\n  a varchar(10) CHARACTER SET latin1 COMMENT 'charset utf8',\n"
           "  b varchar(10) CHARSET utf8\n) DEFAULT CHARSET=utf8mb4;\n")
    found = {(f.line, f.column, f.message.split(" is ")[0]) for f in findings(sql, "mysql", "system.charset.allowlist")}
    assert found == {(3, 17, "character set latin1"), (4, 17, "character set utf8")}


def test_validated_constraint_findings_point_at_the_constraint():
    sql = ("ALTER TABLE orders\n  ADD COLUMN x int,\n  ADD CONSTRAINT `fk_orders_c` FOREIGN KEY (`c`) REFERENCES c (id),\n"
           "  ADD CONSTRAINT chk_x CHECK (x > 0);\n")
    found = [(f.line, f.column) for f in findings(sql, "mysql", "constraint.mysql.add-validated-constraint")]
    assert found == [(3, 7), (4, 7)]


# -- foreign keys and foreign_key_checks ---------------------------------------------------------------

FK_INPLACE = "ALTER TABLE child ADD CONSTRAINT fk FOREIGN KEY (p) REFERENCES parent (id), ALGORITHM=INPLACE, LOCK=NONE;"


def test_foreign_key_add_with_inplace_or_instant_fails_while_checks_are_on():
    # MySQL (and MariaDB, checked): ERROR 1846 … Adding foreign keys needs foreign_key_checks=OFF. Try ALGORITHM=COPY
    found = one(FK_INPLACE, "constraint.mysql.add-validated-constraint")
    assert found.severity == "warning" and (found.line, found.column) == (1, 23)
    assert "with ALGORITHM=INPLACE fails while foreign_key_checks is on (error 1846" in found.message
    assert "copies the table" not in found.message
    instant = FK_INPLACE.replace("INPLACE, LOCK=NONE", "INSTANT")
    assert "with ALGORITHM=INSTANT fails" in one(instant, "constraint.mysql.add-validated-constraint").message
    for sql in (FK_INPLACE.replace("INPLACE, LOCK=NONE", "COPY"), FK_INPLACE.replace(", ALGORITHM=INPLACE", "")):
        assert "copies the table" in one(sql, "constraint.mysql.add-validated-constraint").message


def test_no_instant_or_inplace_advice_for_a_foreign_key_add_while_checks_are_on():
    sql = "ALTER TABLE child ADD CONSTRAINT fk FOREIGN KEY (p) REFERENCES parent (id);"
    message = one(sql, "statement.require-algorithm-option").message
    assert "which only ALGORITHM=COPY can do" in message
    assert "SET foreign_key_checks = 0 before it and use ALGORITHM=INPLACE, LOCK=NONE (only if the data is " \
           "proven valid); or, to copy off-peak, state ALGORITHM=COPY and suppress statement.disallow-offline-ddl" in message
    assert "add ALGORITHM=INSTANT" not in message
    message = one("SET foreign_key_checks = 0;\n" + sql, "statement.require-algorithm-option").message
    assert "add ALGORITHM=INSTANT (without LOCK=)" in message


def test_no_lock_none_advice_where_the_table_is_copied():
    # MariaDB 10.11 (as MySQL 8.0): "LOCK=NONE is not supported. Reason: Adding foreign keys needs
    # foreign_key_checks=OFF" / "COPY algorithm requires a lock. Try LOCK=SHARED" (kratos, hydra migrations).
    sql = "ALTER TABLE child ADD CONSTRAINT fk FOREIGN KEY (p) REFERENCES parent (id);"
    for statement in (sql, sql.replace(";", ", ALGORITHM=COPY;"), "ALTER TABLE orders MODIFY note text, ALGORITHM=COPY;"):
        message = one(statement, "statement.require-lock-option").message
        assert "LOCK=NONE fails" in message and "state LOCK=SHARED" in message
        assert "add LOCK=NONE" not in message
    message = one("SET foreign_key_checks = 0;\n" + sql, "statement.require-lock-option").message
    assert "add LOCK=NONE so the change fails fast" in message


CHECK_ADD = "ALTER TABLE keto_uuid_mappings ADD CONSTRAINT keto_uuid_mappings_chk_1 CHECK (string_representation <> '');"


@pytest.mark.parametrize("sql", [
    CHECK_ADD,
    "ALTER TABLE t ADD CHECK (a > 0), ADD COLUMN b int;",
    # the advice for the foreign key (foreign_key_checks = 0, then INPLACE) would still fail for the CHECK
    "ALTER TABLE t ADD CONSTRAINT t_fk FOREIGN KEY (p) REFERENCES p (id), ADD CONSTRAINT t_chk CHECK (a > 0);",
])
def test_no_instant_inplace_or_lock_none_advice_for_a_check_add(sql):
    # MariaDB 10.11 (keto's down migration): ERROR 1845 ALGORITHM=INPLACE (INSTANT) is not supported for this
    # operation. Try ALGORITHM=COPY; LOCK=NONE: … Try LOCK=SHARED; also with check_constraint_checks=0.
    message = one(sql, "statement.require-algorithm-option").message
    assert "it adds a CHECK constraint, which only ALGORITHM=COPY can do" in message
    assert "INSTANT and INPLACE fail" in message and "add ALGORITHM=INSTANT" not in message
    message = one(sql, "statement.require-lock-option").message
    assert "it adds a CHECK constraint" in message and "LOCK=NONE fails" in message and "state LOCK=SHARED" in message
    assert "add LOCK=NONE" not in message


@pytest.mark.parametrize("added", ["ADD CONSTRAINT o_c_fk FOREIGN KEY (c) REFERENCES c (id)", "ADD CONSTRAINT ck CHECK (a > 0)"])
def test_the_copy_the_warnings_allow_is_not_told_to_use_what_fails(added):
    # Stated as the warnings allow (to copy off-peak), the error rules must not advise INPLACE or LOCK=NONE,
    # which fail for these changes; they say how to keep the copy (a suppression) or avoid it.
    sql = f"ALTER TABLE o {added}, ALGORITHM=COPY, LOCK=SHARED;"
    offline = one(sql, "statement.disallow-offline-ddl").message
    assert "which needs the copy (INPLACE and INSTANT fail)" in offline
    assert "-- sluice:ignore statement.disallow-offline-ddl" in offline and "use ALGORITHM=INPLACE/INSTANT" not in offline
    shared = one(sql, "statement.disallow-blocking-lock-option").message
    assert "LOCK=NONE fails" in shared and "use LOCK=NONE or leave it out" not in shared
    assert "-- sluice:ignore statement.disallow-blocking-lock-option" in shared
    exclusive = one(sql.replace("SHARED", "EXCLUSIVE"), "statement.disallow-blocking-lock-option").message
    assert "use LOCK=SHARED at most" in exclusive


def test_a_lock_stated_with_algorithm_copy_is_not_told_to_use_lock_none():
    # MariaDB 10.11: ALGORITHM=COPY, LOCK=NONE → ERROR 1846 "COPY algorithm requires a lock. Try LOCK=SHARED".
    message = one("ALTER TABLE o MODIFY note text, ALGORITHM=COPY, LOCK=SHARED;", "statement.disallow-blocking-lock-option").message
    assert "ALGORITHM=COPY needs at least LOCK=SHARED: use ALGORITHM=INPLACE, LOCK=NONE if the change allows it" in message
    message = one("ALTER TABLE o ADD INDEX i (a), LOCK=SHARED;", "statement.disallow-blocking-lock-option").message
    assert message.endswith("use LOCK=NONE or leave it out")


def test_a_check_add_with_an_online_algorithm_or_lock_none_fails():
    for options, stated in ((", ALGORITHM=INPLACE, LOCK=NONE", "ALGORITHM=INPLACE"),
                            (", ALGORITHM=INSTANT", "ALGORITHM=INSTANT"), (", LOCK=NONE", "LOCK=NONE")):
        message = one(CHECK_ADD.replace(";", f"{options};"), "constraint.mysql.add-validated-constraint").message
        assert f"with {stated} fails: only ALGORITHM=COPY can add it" in message
    message = one(CHECK_ADD, "constraint.mysql.add-validated-constraint").message
    assert "validates every row while writes wait" in message


def test_a_not_enforced_check_gets_the_usual_advice():
    # MySQL 8.0.16+: a NOT ENFORCED check validates no row (MariaDB has no NOT ENFORCED).
    sql = "ALTER TABLE t ADD CONSTRAINT t_chk CHECK (a > 0) NOT ENFORCED;"
    assert "add ALGORITHM=INSTANT" in one(sql, "statement.require-algorithm-option").message
    assert "add LOCK=NONE" in one(sql, "statement.require-lock-option").message


@pytest.mark.parametrize("setting", [
    "SET unique_checks = 0, foreign_key_checks = 0;",
    "SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0;",  # MySQL Workbench
    "/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;",  # mysqldump
    "SET @@session.foreign_key_checks = 0;",
    "SET SESSION unique_checks = 0, foreign_key_checks = OFF;",
    "SET GLOBAL max_connections = 500, SESSION foreign_key_checks = 0;",
])
def test_foreign_key_checks_off_anywhere_in_a_set_list(setting):
    assert not flags(f"{setting}\n{FK_INPLACE}", "mysql", "constraint.mysql.add-validated-constraint")


@pytest.mark.parametrize("setting", [
    "SET foreign_key_checks = 0;\nSET unique_checks = 1, foreign_key_checks = 1;",
    "/*!40014 SET FOREIGN_KEY_CHECKS=0 */;\n/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;",
    "SET GLOBAL foreign_key_checks = 0;",
    "SET GLOBAL max_connections = 500, foreign_key_checks = 0;",  # GLOBAL goes on to the next assignment
    "SET @fkc = 0, @@global.foreign_key_checks = 0;",
])
def test_foreign_key_checks_back_on_or_off_only_globally(setting):
    assert flags(f"{setting}\n{FK_INPLACE}", "mysql", "constraint.mysql.add-validated-constraint")


# -- ALGORITHM=INSTANT takes no LOCK= --------------------------------------------------------------------


def test_algorithm_and_lock_advice_never_pairs_instant_with_a_lock():
    # MySQL 8.0: "Incorrect usage of ALGORITHM=INSTANT and LOCK=NONE/SHARED/EXCLUSIVE"
    sql = "ALTER TABLE orders ADD COLUMN note varchar(200);"
    assert "add ALGORITHM=INSTANT (without LOCK=) or ALGORITHM=INPLACE, LOCK=NONE" in \
        one(sql, "statement.require-algorithm-option").message
    assert "(or use ALGORITHM=INSTANT, without LOCK=)" in one(sql, "statement.require-lock-option").message
    for rule_id in ("statement.require-algorithm-option", "statement.require-lock-option"):
        assert "without `LOCK=`" in RULES[rule_id].instead


# -- what the charset and engine patterns read ----------------------------------------------------------


@pytest.mark.parametrize("sql", [
    "CREATE TABLE `mail` (\n  `id` bigint NOT NULL,\n  `charset` varchar(32) NOT NULL,\n  PRIMARY KEY (`id`)\n"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;",
    "CREATE TABLE mail (id bigint PRIMARY KEY, charset varchar(32) NOT NULL);",
    "ALTER TABLE mail ADD COLUMN charset varchar(32), ALGORITHM=INSTANT;",
    "ALTER TABLE mail CHANGE charset charset varchar(64) NOT NULL, ALGORITHM=INPLACE, LOCK=NONE;",
])
def test_a_column_named_charset_is_no_character_set(sql):
    assert not flags(sql, "mysql", "system.charset.allowlist")


def test_a_charset_clause_after_a_column_named_charset():
    found = one("CREATE TABLE mail (id bigint PRIMARY KEY, charset varchar(32) CHARSET latin1);",
                "system.charset.allowlist")
    assert found.message.startswith("character set latin1 is not") and (found.line, found.column) == (1, 63)


def test_engine_attribute_and_secondary_engine_are_no_engine():
    assert not flags("CREATE TABLE h (id bigint PRIMARY KEY) ENGINE=InnoDB SECONDARY_ENGINE=RAPID "
                     "ENGINE_ATTRIBUTE='{\"k\":1}';", "mysql", "engine.mysql.use-innodb")
    assert "ENGINE=MyISAM" in one("CREATE TABLE h (id int PRIMARY KEY) ENGINE_ATTRIBUTE='{}' ENGINE=MyISAM;",
                                  "engine.mysql.use-innodb").message


def test_binary_is_never_flagged_and_ascii_may_be_deliberate():
    sql = ("ALTER TABLE messages ADD COLUMN h char(36) CHARACTER SET ascii COLLATE ascii_bin, "
           "ADD COLUMN u char(16) CHARACTER SET binary, ALGORITHM=INSTANT;")
    assert one(sql, "system.charset.allowlist").message == (
        "character set ascii is not in the allowlist (utf8mb4): if it is deliberate (hashes, UUIDs), add ascii to "
        "the rule's allowlist; else use utf8mb4")
    assert not flags("CREATE TABLE searchindex (id int PRIMARY KEY) DEFAULT CHARSET=binary;", "mysql",
                     "system.charset.allowlist")


# -- locations on MySQL text, comments in PostgreSQL's -----------------------------------------------------------


@pytest.mark.parametrize(("comment", "body", "where"), [
    # not in the `#` comment
    ("  # legacy: was CHARACTER SET latin1 before 2019\n", "body text COMMENT 'it\\'s' CHARACTER SET latin1", (5, 29)),
    # between backslash-escaped quotes (not the statement's start)
    ("", "body text CHARACTER SET latin1 COMMENT 'it\\'s'", (4, 13)),
])
def test_charset_findings_are_located_as_mysql_lexes_the_text(comment, body, where):
    sql = (f"CREATE TABLE notes (\n  id bigint PRIMARY KEY,\n{comment}  title varchar(100) COMMENT 'the user\\'s title',\n"
           f"  {body}\n) DEFAULT CHARSET=utf8mb4;\n")
    found = one(sql, "system.charset.allowlist")
    assert (found.line, found.column) == where


def test_postgres_database_encoding_in_a_comment_is_not_read():
    assert not flags("CREATE DATABASE app /* not ENCODING 'LATIN1' */ ENCODING 'UTF8';", "postgres",
                     "system.charset.allowlist")
    found = one("CREATE DATABASE app ENCODING 'LATIN1'; -- not ENCODING 'UTF8'", "system.charset.allowlist", "postgres")
    assert "encoding LATIN1" in found.message


# -- inline REFERENCES beside a table-level key ---------------------------------------------------------------


def test_inline_references_of_a_column_that_a_table_level_key_covers():
    sql = ("CREATE TABLE orders (id bigint PRIMARY KEY,\n"
           "  customer_id bigint NOT NULL REFERENCES customers (id) ON DELETE CASCADE,\n"
           "  CONSTRAINT fk FOREIGN KEY (`customer_id`) REFERENCES customers (id));")
    found = one(sql, "column.mysql.inline-references-ignored")
    assert found.severity == "error" and (found.line, found.column) == (2, 3)
    assert "its inline REFERENCES customers (ON DELETE CASCADE) is silently ignored on MySQL ≤ 8.4, while the " \
           "table-level FOREIGN KEY on customer_id stands: remove the inline clause" in found.message
    assert "creates no foreign key" not in found.message
    plain = one("ALTER TABLE items ADD COLUMN order_id bigint REFERENCES orders (id), "
                "ADD FOREIGN KEY (order_id) REFERENCES orders (id);", "column.mysql.inline-references-ignored")
    assert "its inline REFERENCES orders is silently ignored" in plain.message and "actions" not in plain.message


# -- MariaDB's statement forms (MariaDB 10.11 accepts each) ----------------------------------------------------


@pytest.mark.parametrize("sql", [
    "CREATE OR REPLACE TABLE audit_log (id bigint PRIMARY KEY) ENGINE=MyISAM;",
    "ALTER TABLE IF EXISTS audit_log ENGINE=MyISAM;",
    "ALTER TABLE audit_log WAIT 5 ENGINE=MyISAM;",
    "ALTER ONLINE TABLE IF EXISTS audit_log NOWAIT ENGINE=MyISAM;",
])
def test_mariadb_create_or_replace_if_exists_and_wait_forms_are_read(sql):
    assert "table audit_log uses ENGINE=MyISAM" in one(sql, "engine.mysql.use-innodb").message
    assert not flags(sql.replace("MyISAM", "InnoDB"), "mysql", "engine.mysql.use-innodb")


def test_mariadb_alter_table_if_exists_and_wait_read_the_options():
    assert one("ALTER TABLE IF EXISTS t WAIT 0.5 ADD COLUMN x int;", "statement.require-algorithm-option") \
        .message.startswith("ALTER TABLE t does not state ALGORITHM=")
    assert flags("ALTER TABLE t NOWAIT ADD COLUMN x int, ALGORITHM=COPY;", "mysql", "statement.disallow-offline-ddl")
    assert not flags("ALTER TABLE IF EXISTS t NOWAIT ADD COLUMN x int, ALGORITHM=INSTANT;", "mysql",
                     "statement.require-algorithm-option")


def test_mariadb_create_index_if_not_exists_and_or_replace():
    assert flags("CREATE INDEX IF NOT EXISTS idx_t_name ON t (name) ALGORITHM=COPY;", "mysql",
                 "statement.disallow-offline-ddl")
    assert flags("CREATE OR REPLACE UNIQUE INDEX idx_t_name ON t (name) WAIT 2 LOCK=SHARED;", "mysql",
                 "statement.disallow-blocking-lock-option")
    assert not flags("CREATE INDEX IF NOT EXISTS idx_t_name ON t (name) ALGORITHM=INPLACE LOCK=NONE;", "mysql",
                     "statement.disallow-offline-ddl")


def test_mariadb_create_or_replace_database_and_table_charsets():
    assert flags("CREATE OR REPLACE DATABASE shop CHARACTER SET latin1;", "mysql", "system.charset.allowlist")
    assert flags("CREATE OR REPLACE TABLE notes (body text) DEFAULT CHARSET=utf8;", "mysql", "system.charset.allowlist")
    assert not flags("CREATE OR REPLACE DATABASE shop CHARACTER SET utf8mb4;", "mysql", "system.charset.allowlist")


def test_mariadb_add_constraint_if_not_exists():
    found = one("ALTER TABLE t ADD CONSTRAINT IF NOT EXISTS chk_t_id CHECK (id > 0);",
                "constraint.mysql.add-validated-constraint")
    assert "ADD CHECK on table t" in found.message
    assert not flags("CREATE TABLE t (id int);\nALTER TABLE t ADD CONSTRAINT IF NOT EXISTS chk_t_id CHECK (id > 0);",
                     "mysql", "constraint.mysql.add-validated-constraint")


def test_mariadb_foreign_key_if_not_exists_covers_the_inline_references():
    sql = ("ALTER TABLE t ADD COLUMN cid bigint REFERENCES p (id), ADD FOREIGN KEY IF NOT EXISTS (cid) "
           "REFERENCES p (id);")
    assert "the table-level FOREIGN KEY on cid stands" in one(sql, "column.mysql.inline-references-ignored").message
    assert "creates no foreign key" in one(sql.split(", ADD")[0] + ";", "column.mysql.inline-references-ignored").message


def test_mariadb_collations():
    # MariaDB has no utf8mb4_0900_ai_ci (error 1273): the advice names its own, which the allowlist takes.
    message = one("CREATE TABLE notes (id bigint PRIMARY KEY);", "table.require-collation").message
    assert "utf8mb4_0900_ai_ci (MariaDB, which lacks it: utf8mb4_uca1400_ai_ci)" in message
    policy = Policy.from_rows("p", [("system.collation.allowlist", "warning", {})])
    assert not findings("CREATE TABLE t (a text) COLLATE=utf8mb4_uca1400_ai_ci;", "mysql", "system.collation.allowlist",
                        policy)
    assert findings("CREATE TABLE t (a text) COLLATE=latin1_swedish_ci;", "mysql", "system.collation.allowlist", policy)


@pytest.mark.parametrize("sql", [
    "CREATE TABLE t (a enum('x','y''z') DEFAULT 'x' COMMENT \"q\\\"uote\", b set('','a')) CHARSET='utf8mb4';",
    "ALTER TABLE t MODIFY a enum('a', 'b') /* 'not a literal' */ COMMENT 'c' -- 'nor this'\n, ALGORITHM=INPLACE;",
    "CREATE TABLE `it''s` (`a'b` int COMMENT 'x', `c` text CHARACTER SET 'latin1');",
    "CREATE TABLE t (a varchar(5) DEFAULT '''' COMMENT '\\\\', b int) # trailing 'comment'\nENGINE=MyISAM;",
])
def test_the_ddl_read_from_the_flat_text_is_the_ddl_read_from_the_text(sql):
    # read_ddl numbers the literals of the flat text the engine made (no second pass of the lexer):
    # the same cleaned text, options, columns and literal values as reading the statement itself.
    from reviews.engine.model import flatten
    from reviews.rules.mysql import read_ddl

    def seen(ddl):
        columns = [(c.name, c.type, c.params, c.attrs) for c in ddl.columns] if ddl.kind == "CREATE TABLE" else []
        return ddl.kind, ddl.table, ddl.text, ddl.options, ddl.body, ddl.literals, columns

    assert seen(read_ddl(sql, flatten(sql, "mysql"))) == seen(read_ddl(sql))
    assert read_ddl(sql).literals  # (each has literals to number)
