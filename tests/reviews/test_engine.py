"""The engine itself: locations, syntax judgement per dialect, suppression, fingerprints, risk."""

from __future__ import annotations

import pytest
from sqlglot import exp

from reviews.engine import Policy, review_file, review_files


def review(sql: str | bytes, dialect: str = "postgres", path: str = "0001_x.sql"):
    return review_file(path, sql, dialect, Policy.recommended())


def rules_of(review_) -> list[tuple[str, int, int]]:
    return [(f.rule, f.line, f.column) for f in review_.findings if not f.suppressed]


def test_a_postgres_syntax_error_is_located_exactly_and_the_rest_is_reviewed():
    found = review("CREATE TABLE a (id bigint PRIMARY KEY);\nSELECT\n  1,\n  ,2;\nDROP TABLE customers;\n")
    assert ("system.syntax-error", 4, 3) in rules_of(found)
    assert ("table.disallow-drop", 5, 1) in rules_of(found)
    [syntax] = [f for f in found.findings if f.rule == "system.syntax-error"]
    assert syntax.severity == "error" and 'syntax error at or near ","' in syntax.message


def test_postgres_never_reports_a_syntax_error_for_what_its_grammar_accepts():
    sql = ("CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END;\n"
           "DO $$ BEGIN RAISE NOTICE 'x;y'; END $$;\n"
           "ALTER TABLE a VALIDATE CONSTRAINT c;\nCREATE EXTENSION IF NOT EXISTS pg_trgm;\n")
    assert not [f for f in review(sql).findings if f.rule == "system.syntax-error"]


def test_sqlite_judges_its_own_syntax_but_not_missing_tables():
    found = review("ALTER TABLE customers ADD COLUMN email text;\nCREATE TABLE a (id int,, x);\n", "sqlite")
    assert [r for r in rules_of(found) if r[0] == "system.syntax-error"] == [("system.syntax-error", 2, 24)]


def test_mysql_unparseable_but_plausible_is_info_and_certainly_broken_is_an_error():
    plausible = review("ALTER TABLE t ADD COLUMN x INT, ALGORITHM=INSTANT, LOCK=DEFAULT, DISCARD TABLESPACE;", "mysql")
    broken = review("ALTER TABLE t ADD COLUMN;\nCREATE TABLE u (id int, name varchar(10),);\n", "mysql")
    assert "system.syntax-error" not in [f.rule for f in plausible.findings]
    assert [f.line for f in broken.findings if f.rule == "system.syntax-error"] == [1, 2]


def test_mysql_strings_holding_a_comma_or_a_parenthesis_are_not_punctuation():
    # sqlglot cannot parse a procedure, so the engine judges its tokens: a string token's text is its
    # content, and `')'` or `SEPARATOR ','` before `)` is neither a parenthesis nor a trailing comma
    # (MySQL's own sys schema was reported as three syntax errors).
    sql = ("DELIMITER $$\nCREATE PROCEDURE p(IN n int)\nBEGIN\n"
           "  SELECT CONCAT('(', GROUP_CONCAT(name ORDER BY id SEPARATOR ','), ')') INTO @x FROM t;\n"
           "  SELECT CONCAT(')', 'x') INTO @y;\nEND$$\nDELIMITER ;\n")
    found = review(sql, "mysql")
    assert [f.rule for f in found.findings if f.rule.startswith("system.")] == ["system.parse-unsupported"]
    still_broken = review("CREATE PROCEDURE p() BEGIN SELECT CONCAT(')', 'x'; END;", "mysql")
    assert [f.rule for f in still_broken.findings if f.rule == "system.syntax-error"] == ["system.syntax-error"]


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "sqlite"])
def test_a_statement_that_breaks_the_parser_leaves_nothing_behind_for_the_next(dialect):
    # The engine keeps one sqlglot tokenizer and parser per dialect: an unterminated string or a
    # parse error on one statement must not change how the next one is read.
    clean = review("CREATE TABLE a (id int PRIMARY KEY);\nDROP TABLE customers;\n", dialect)
    broken = review("SELECT 'unterminated;\n", dialect)
    assert "system.syntax-error" in [f.rule for f in broken.findings]
    # Valid PostgreSQL that sqlglot cannot parse (it raises): no finding, and nothing left over.
    assert not review("CREATE OPERATOR === (leftarg = int, rightarg = int, function = f);").findings
    assert rules_of(review("CREATE TABLE a (id int PRIMARY KEY);\nDROP TABLE customers;\n", dialect)) \
        == rules_of(clean)


def test_bad_bytes_are_a_located_encoding_error_and_the_file_is_still_reviewed():
    found = review(b"CREATE TABLE a (id bigint PRIMARY KEY);\nINSERT INTO a (id) VALUES (1); -- caf\xe9\nDROP TABLE b;\n")
    assert ("system.encoding-error", 2, 38) in rules_of(found)
    assert "offset 77" in next(f.message for f in found.findings if f.rule == "system.encoding-error")
    assert ("table.disallow-drop", 3, 1) in rules_of(found)


@pytest.mark.parametrize("content", [b"", b"\n  \n", b"-- only a comment\n", "\ufeff".encode()])
def test_an_empty_file_is_a_finding_not_a_crash(content):
    assert rules_of(review(content)) == [("system.empty-file", 1, 1)]


def test_a_file_of_comments_alone_is_told_how_to_stay_a_placeholder():
    # A release loads it (a no-op migration: ory writes such files on purpose); a blank file it refuses.
    [found] = review(b"-- blank migration: keeps every dialect's folder in step\n").findings
    assert "`-- sluice:ignore system.empty-file`" in found.message
    kept = review(b"-- sluice:ignore system.empty-file\n-- blank migration\n").findings
    assert [(f.rule, f.suppressed) for f in kept] == [("system.empty-file", True)]
    [blank] = review(b"\n  \n").findings
    assert blank.message == "the file has no statements: delete it or add the migration"


def test_psql_meta_commands_and_copy_data_are_understood():
    sql = "\\connect shop\nCOPY t (a, b) FROM stdin;\n1\tx\n2\ty\n\\.\nCREATE TABLE z (id bigint PRIMARY KEY);\n"
    assert rules_of(review(sql)) == [("system.client-command", 1, 1)]


def test_ignore_above_a_statement_suppresses_that_statement_only():
    # (After the first statement: in the leading comment block, a directive covers the whole file.)
    sql = "SELECT 1;\n-- why: retired\n-- sluice:ignore table.disallow-drop\nDROP TABLE old_a;\nDROP TABLE old_b;\n"
    found = review(sql)
    drops = [(f.line, f.suppressed) for f in found.findings if f.rule == "table.disallow-drop"]
    assert drops == [(4, True), (5, False)]
    # In any case, with or without other letters in the file.
    for upper in (sql.replace("sluice:ignore", "SLUICE:Ignore"), "-- café\n" + sql.replace("sluice", "SLUICE")):
        found = review(upper)
        assert [f.suppressed for f in found.findings if f.rule == "table.disallow-drop"] == [True, False]


def test_ignore_in_the_leading_block_covers_the_file():
    sql = ("-- sluice:ignore table.disallow-drop\n-- sluice:lock-timeout 2s\n-- sluice:statement-timeout 1min\n\n"
           "CREATE TABLE x (id bigint PRIMARY KEY);\nDROP TABLE old_a;\n")
    found = review(sql)
    assert [(f.rule, f.suppressed) for f in found.findings] == [("table.disallow-drop", True)]
    assert found.findings[0].fingerprint


def test_ignore_inside_a_statement_covers_it_also_the_last_one():
    # A directive in a statement's body (above the column it is about) covers that statement, the
    # file's last one too (it used to cover nothing there, and was reported as unused).
    body = "CREATE TABLE t (\n  id bigint PRIMARY KEY,\n  -- sluice:ignore column.prefer-jsonb\n  data json\n);\n"
    for sql in (body, body + "SELECT 1;\n"):
        found = review(sql).findings
        assert [(f.rule, f.line, f.suppressed) for f in found] == [("column.prefer-jsonb", 4, True)], sql
    after = review("SELECT 1;\n-- sluice:ignore column.prefer-jsonb\n").findings
    assert [(f.rule, f.line) for f in after] == [("system.invalid-ignore-directive", 2)]
    assert "suppresses nothing after the last statement" in after[0].message


def test_an_unknown_or_unused_ignore_is_reported():
    sql = "CREATE TABLE x (id bigint PRIMARY KEY);\n-- sluice:ignore table.disalow-drop\nDROP TABLE a;\n" \
          "-- sluice:ignore table.disallow-drop\nCREATE TABLE y (id bigint PRIMARY KEY);\n"
    found = [f for f in review(sql).findings if f.rule == "system.invalid-ignore-directive"]
    assert [(f.line, f.severity) for f in found] == [(2, "warning"), (4, "warning")]
    assert "unknown rule `table.disalow-drop`" in found[0].message
    assert "suppresses nothing" in found[1].message


def test_fingerprints_do_not_depend_on_line_numbers():
    before = review("DROP TABLE a;\n").findings
    after = review("-- a comment\n\n\nDROP   TABLE a;\n").findings
    assert before[0].line != after[0].line
    assert before[0].fingerprint == after[0].fingerprint
    twice = review("DROP TABLE a;\nDROP TABLE a;\n").findings
    assert twice[0].fingerprint != twice[1].fingerprint


def test_a_file_level_finding_keeps_its_fingerprint_when_lines_move_above_it():
    before = review(b"SELECT 1;\n-- caf\xe9\n").findings
    after = review(b"\n\n-- a comment\nSELECT 1;\n-- caf\xe9\n").findings
    [(b, a)] = [(b, a) for b, a in zip(before, after, strict=True) if b.rule == a.rule == "system.encoding-error"]
    assert (b.line, a.line) == (2, 5) and b.message != a.message  # (the message gives the byte offset)
    assert b.fingerprint == a.fingerprint
    assert review(b"SELECT 1;\n-- \xff\n").findings[0].fingerprint != b.fingerprint  # another byte


@pytest.mark.parametrize("sql, risk", [
    ("CREATE TABLE a (id bigint PRIMARY KEY);", "low"),
    ("UPDATE a SET x = 1 WHERE id = 2;", "moderate"),
    ("DROP INDEX i;", "moderate"),
    ("CREATE TABLE a (id bigint PRIMARY KEY);\nTRUNCATE b;", "high"),
    # A statement that starts with WITH changes data when it (or one of its CTEs) deletes or updates.
    ("WITH old AS (SELECT id FROM a WHERE x < 1) DELETE FROM a USING old WHERE a.id = old.id;", "moderate"),
    ("WITH gone AS (DELETE FROM a WHERE x < 1 RETURNING id) SELECT count(*) FROM gone;", "moderate"),
    ("WITH s AS (SELECT id FROM a) UPDATE a SET x = 1 FROM s WHERE a.id = s.id;", "moderate"),
    ("WITH s AS (SELECT id FROM a FOR UPDATE) SELECT * FROM s;", "low"),
    ("WITH s AS (SELECT id FROM a FOR NO KEY UPDATE) SELECT * FROM s;", "low"),
    ("WITH s AS (SELECT 'DELETE' AS word) SELECT * FROM s;", "low"),
])
def test_risk_per_file(sql, risk):
    assert review(sql).risk == risk


@pytest.mark.parametrize("sql", ["ALTER ONLINE TABLE a ADD COLUMN b int;", "ALTER IGNORE TABLE a ADD UNIQUE (b);"])
def test_mariadb_alter_table_forms_are_moderate_risk(sql):
    assert review(sql, "mysql").risk == "moderate"


def test_the_check_document():
    result = review_files([("a.sql", "DROP TABLE a;"), ("b.sql", "")], "postgres", Policy.recommended())
    doc = result.as_json()
    assert doc["schema"] == "sluice.check/v1"
    # (The drop's error, the empty file's; the drop's lock and statement timeouts.)
    assert doc["summary"] == {"errors": 2, "warnings": 2, "infos": 0, "files": 2, "blocking": True, "risk": "high"}
    assert doc["files"] == [{"file": "a.sql", "risk": "high", "statements": 1},
                            {"file": "b.sql", "risk": "low", "statements": 0}]
    assert set(doc["findings"][0]) >= {"rule", "severity", "message", "file", "line", "column", "end_line",
                                       "statement", "fingerprint"}
    assert result.as_json(fail_on="never")["summary"]["blocking"] is False


def test_a_disabled_rule_finds_nothing():
    policy = Policy.from_rows("p", [("table.disallow-drop", "disabled", {})])
    found = review_file("a.sql", "DROP TABLE a;", "postgres", policy).findings
    assert found and "table.disallow-drop" not in {f.rule for f in found}


def test_unknown_rule_ids_and_bad_severities_are_refused_in_policies():
    with pytest.raises(ValueError, match="unknown rule id 'no.such-rule'"):
        Policy.from_rows("p", [("no.such-rule", "error", {})])
    with pytest.raises(ValueError, match="severity must be one of"):
        Policy.from_rows("p", [("table.disallow-drop", "fatal", {})])


def test_passwords_never_reach_a_finding():
    sql = "CREATE ROLE app LOGIN PASSWORD 'hunter2';\nCREATE USER 'a'@'%' IDENTIFIED BY 's3cret';\n"
    for dialect in ("postgres", "mysql"):
        found = review_file("0001_x.sql", sql, dialect, Policy.everything()).findings
        assert any(f.rule == "security.disallow-plaintext-password" for f in found)
        assert not any("hunter2" in f.statement + f.message or "s3cret" in f.statement + f.message for f in found)


@pytest.mark.parametrize("sql", ["(", "CREATE", "DROP TABLE;", "SELECT 'x"])
def test_input_cut_short_is_a_syntax_error_not_a_crash(sql):
    found = review(sql)
    assert [f.rule for f in found.findings if f.rule == "system.syntax-error"] == ["system.syntax-error"]


def test_a_finding_as_a_dict_has_every_field_in_order() -> None:
    import dataclasses

    from reviews.engine.core import Finding

    finding = Finding("table.disallow-drop", "error", "m", "f.sql", 1, 2, 3, "DROP TABLE t", "fp", True)
    assert finding.as_dict() == dataclasses.asdict(finding)
    assert list(finding.as_dict()) == [f.name for f in dataclasses.fields(Finding)]


def test_passwords_are_masked_in_any_case_and_outside_ascii():
    from reviews.engine.core import redact

    assert redact("ALTER ROLE app WITH PaSsWoRd 'hunter2'") == "ALTER ROLE app WITH PaSsWoRd '***'"
    assert redact("create user 'é'@'%' identified by 's3cret'") == "create user 'é'@'%' identified by '***'"
    assert redact("CREATE TABLE t (id bigint)") == "CREATE TABLE t (id bigint)"
    # Letters outside ASCII that the pattern's case folding reads as the keywords' S and I.
    assert redact("ALTER ROLE app PAſſWORD 'hunter2' -- …") == "ALTER ROLE app PAſſWORD '***' -- …"
    assert redact("create user é ıdentıfıed by 's3cret'") == "create user é ıdentıfıed by '***'"
    assert redact("CREATE USER é İDENTİFİED BY 's3cret'") == "CREATE USER é İDENTİFİED BY '***'"


def test_the_fast_path_past_the_password_pattern_misses_no_letter_it_folds():
    # Every character outside ASCII that the pattern (re.IGNORECASE) matches with a letter of PASSWORD or
    # IDENTIFIED must become that letter in the text redact() tests for the words.
    import re
    import sys

    everything = "".join(chr(c) for c in range(128, sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)
    for letter in set("PASSWORDIDENTIFIED"):
        folded = re.findall(letter, everything, re.IGNORECASE)
        assert all(letter in char.upper().replace("İ", "I") for char in folded), (letter, folded)
        assert letter not in "SI" or folded  # (ſ, ı, İ: the test does see them)


def test_text_outside_ascii_without_a_password_takes_the_fast_path_too(monkeypatch):
    from reviews.engine import core

    monkeypatch.setattr(core, "_SECRET", None)
    text = "ALTER TABLE orders … follows another ALTER: merge the actions — ünïcödé"
    assert core.redact(text) is text


@pytest.mark.parametrize(("dialect", "sql"), [
    ("postgres", "CREATE ROLE app LOGIN PASSWORD $$hunter2$$;"),
    ("postgres", "CREATE ROLE app LOGIN PASSWORD $pw1$hunter2$pw1$ VALID UNTIL 'infinity';"),
    ("postgres", "ALTER ROLE app PASSWORD E'x\\'hunter2';"),
    ("mysql", "SET PASSWORD FOR 'app'@'%' = 'hunter2';"),
    ("mysql", "SET PASSWORD FOR 'app'@'%' = PASSWORD('hunter2');"),
    ("mysql", "SET /* why */ PASSWORD = 'hunter2';"),
    ("mysql", "CREATE USER 'app'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('hunter2');"),
    ("mysql", "CREATE USER 'app'@'%' IDENTIFIED WITH ed25519 USING PASSWORD('hunter2');"),
    ("mysql", "CREATE USER 'app'@'%' IDENTIFIED BY 'x\\'hunter2';"),  # a backslash escape does not end it
    ("mysql", "ALTER USER 'app'@'%' IDENTIFIED BY 'n3w' REPLACE 'hunter2';"),  # the current password
])
def test_every_flagged_password_form_is_masked(dialect, sql):
    document = review_files([("0001_x.sql", sql)], dialect, Policy.everything()).as_json()
    assert "security.disallow-plaintext-password" in [f["rule"] for f in document["findings"]]
    for finding in document["findings"]:
        assert "hunter2" not in finding["statement"] + finding["message"]
        assert "'***'" in finding["statement"]


def test_text_without_a_password_keeps_its_fast_path(monkeypatch):
    from reviews.engine import core

    monkeypatch.setattr(core, "_SECRET", None)  # the pattern is not even looked at
    text = "UPDATE users SET name = 'x' WHERE id = 1"
    assert core.redact(text) is text


def _met_by_a_rule_gated(sql: str, **gates) -> list[str]:
    """The statements (st.norm) of `sql` that a test rule with these gates is called on."""
    from reviews.engine import registry

    seen: list[str] = []
    registry.rule("test.gated", engines="P", category="DES", severity="W", summary="test", **gates)(
        lambda st, ctx, payload: seen.append(st.norm) or ())
    try:
        review_file("0001_x.sql", sql, "postgres", Policy.recommended())
    finally:
        del registry.RULES["test.gated"]
    return seen


def _gate_refused(message: str, **gates) -> None:
    from reviews.engine import registry

    with pytest.raises(ValueError, match=message):
        registry.rule("test.bad", engines="P", category="DES", severity="W", summary="t", **gates)(
            lambda st, ctx, payload: ())
    assert "test.bad" not in registry.RULES


def test_a_rule_gated_by_contains_meets_only_statements_holding_its_words():
    sql = "DROP TABLE a CASCADE;\nDROP TABLE b; -- cascade\nSELECT 'cascade';\n"
    # Not the comment, not the string.
    assert _met_by_a_rule_gated(sql, contains=("CASCADE",)) == ["DROP TABLE A CASCADE"]
    _gate_refused("upper-case words", contains=("cascade",))


def test_a_rule_gated_by_prefixes_meets_only_statements_starting_so():
    sql = ("CREATE TABLE superusers (id int);\nCREATE ROLE admin SUPERUSER;\nALTER ROLE app NOSUPERUSER;\n"
           "ALTER ROLE app LOGIN;\n/* ALTER ROLE x */ CREATE ROLE ops SUPERUSER;\nDROP ROLE superuser;\n")
    # Both gates: the prefix (the comment is no part of it) and the word.
    assert _met_by_a_rule_gated(sql, contains=("SUPERUSER",), prefixes=("CREATE ROLE", "ALTER ROLE")) == [
        "CREATE ROLE ADMIN SUPERUSER", "ALTER ROLE APP NOSUPERUSER", "CREATE ROLE OPS SUPERUSER"]
    _gate_refused("prefixes= takes", prefixes=("create role",))
    _gate_refused("not both", keywords=("CREATE",), prefixes=("CREATE ROLE",))


def test_a_rule_gated_by_actions_meets_only_alters_with_such_an_action():
    sql = ("ALTER TABLE a ADD CONSTRAINT c CHECK (x > 0);\nALTER TABLE a DROP COLUMN x, ADD COLUMN y int;\n"
           "ALTER TABLE a ALTER COLUMN y SET DEFAULT 0;\nCREATE TABLE b (id int);\n")
    # The ALTER that adds a column, and any other statement of the rule's node types.
    assert _met_by_a_rule_gated(sql, nodes=(exp.Create, exp.Alter), actions=(exp.ColumnDef, exp.ModifyColumn)) == [
        "ALTER TABLE A DROP COLUMN X, ADD COLUMN Y INT", "CREATE TABLE B (ID INT)"]
    _gate_refused("node types", actions=("ColumnDef",))


def test_the_dispatch_caches_keep_no_odd_first_word():
    """A long-lived worker reviews whatever files come: the rule lists it remembers by a statement's
    first word stay bounded, and a long "word" (a statement without blanks) is not kept at all."""
    from reviews.engine.policy import _LONGEST_KEYWORD, MAX_GATED

    policy = Policy("cache-test", {})
    rules = policy.rules_for("postgres")
    long_word = "X" * 100_000
    sql = "".join(f"w{i} 1;\n" for i in range(MAX_GATED + 50)) + long_word + ";\nDROP TABLE t;\n"
    review = review_file("0001_x.sql", sql, "postgres", policy)
    assert [f.line for f in review.findings if f.rule == "table.disallow-drop"] == [MAX_GATED + 52]
    for cache in (rules._candidates, rules._words, rules._gated, rules._trackers_of):
        assert len(cache) <= MAX_GATED
        assert all(len(str(key)) < 200 for key in cache)  # (the type's name and a short word)
    assert max(len(word) for word in rules._trackers_of) <= _LONGEST_KEYWORD


def test_the_dollar_tag_pattern_takes_exactly_the_characters_postgresql_does():
    """DOLLAR_TAG is written as its complement (much faster to compile): the same characters as the
    readable class, for every code point, also under IGNORECASE (the password pattern's flag)."""
    import re
    import sys

    from reviews.engine.model import DOLLAR_TAG

    every = "".join(map(chr, range(sys.maxunicode + 1)))
    first, then = re.findall(r"\[\^[^\]]*\]", DOLLAR_TAG)  # (its two classes)
    for flags in (0, re.IGNORECASE):
        for fast, readable in ((first, r"[A-Za-z_\u0080-\U0010ffff]"), (then, r"[A-Za-z_0-9\u0080-\U0010ffff]")):
            assert re.findall(fast, every, flags) == re.findall(readable, every, flags)
    assert re.fullmatch(DOLLAR_TAG, "body1_é") and not re.fullmatch(DOLLAR_TAG, "1body")
    assert re.fullmatch(DOLLAR_TAG, "")


def test_dollar_quote_tags_may_hold_digits():
    from reviews.engine.model import blank_comments_and_strings, normalize

    body = "$body1$ BEGIN SET search_path = public; END $body1$"
    assert normalize(f"CREATE FUNCTION f1() RETURNS void LANGUAGE plpgsql AS {body}") == \
        "CREATE FUNCTION F1() RETURNS VOID LANGUAGE PLPGSQL AS ''"
    assert blank_comments_and_strings(f"AS {body}") == "AS " + " " * len(body)
    assert normalize("SELECT $1 + $2") == "SELECT $1 + $2"  # parameters, not tags
    assert normalize("DO $é1$ BEGIN SET search_path = x; END $é1$") == "DO ''"  # as PostgreSQL reads tags
    # the SET inside the body is not the function's option
    sql = f"CREATE FUNCTION f1() RETURNS void LANGUAGE plpgsql SECURITY DEFINER\n  AS {body};\n"
    [found] = [f for f in review(sql).findings if f.rule == "security.definer-requires-search-path"]
    assert (found.line, found.severity) == (1, "error") and "has no SET search_path" in found.message


def test_mysql_statements_are_normalized_as_mysql_reads_them():
    from reviews.engine.model import normalize

    assert normalize("UPDATE t SET a = 'it\\'s' WHERE b = NULL", "mysql") == "UPDATE T SET A = '' WHERE B = NULL"
    assert normalize('INSERT INTO t VALUES ("it\'s", 1) # note', "mysql") == "INSERT INTO T VALUES ( '' , 1)"
    assert normalize("SELECT `a'b` FROM t -- c", "mysql") == "SELECT `A'B` FROM T"
    assert normalize("SELECT 1--1", "mysql") == "SELECT 1--1"  # MySQL's `--` comment needs a blank after it
    # What the rules see follows: a backslash-escaped quote does not hide the WHERE clause …
    found = review_file("0001_x.sql", "UPDATE t SET a = 'it\\'s' WHERE b = NULL;\n", "mysql", Policy.recommended())
    assert "statement.where.no-equal-null" in [f.rule for f in found.findings]
    # … and a `#` comment is not SQL.
    sql = "CREATE TABLE c (id bigint PRIMARY KEY, p bigint\n# , FOREIGN KEY (p) REFERENCES p (id) ON DELETE CASCADE\n);\n"
    found = review_file("0001_x.sql", sql, "mysql", Policy.everything())
    assert "statement.disallow-on-del-cascade" not in [f.rule for f in found.findings]


def test_postgres_quoted_names_holding_quotes_or_comment_openers_start_nothing():
    from reviews.engine.model import blank_comments_and_strings, normalize

    assert normalize('''ALTER TABLE "it's" ADD COLUMN "x's" int''') == '''ALTER TABLE "IT'S" ADD COLUMN "X'S" INT'''
    assert normalize('SELECT "a--b", \'x\' FROM "c/*d" -- note') == 'SELECT "A--B", \'\' FROM "C/*D"'
    text = 'SELECT "it\'s", \'v"w\' /* c */'
    assert blank_comments_and_strings(text) == 'SELECT "it\'s", ' + " " * len("'v\"w' /* c */")  # same offsets
    # What the lock rules say names the table as written, not a text cut at its quote.
    found = review('''ALTER TABLE "it's" ADD COLUMN "x's" int;\n''')
    messages = [f.message for f in found.findings if f.rule == "statement.require-lock-timeout"]
    assert messages and messages[0].startswith('''ALTER TABLE on existing table "it's" runs''')


@pytest.mark.parametrize("prefix", ["", "# a file header\n\n"])
def test_mysql_positions_from_the_files_tokens_are_the_statements(prefix):
    # MySQL statements are parsed from the tokens the splitter read for the whole file (offsets in
    # the file, not the statement): positions taken from the tree and from the tokens (a trailing
    # comma) must still land where they are.
    sql = prefix + ("CREATE TABLE a (id int);\n-- note\nALTER TABLE t\n  CHANGE  old_name new_name int;\n"
                    "SELECT 1; INSERT INTO t (a,) VALUES (1);\n")
    shift = prefix.count("\n")
    found = {(f.rule, f.line - shift, f.column) for f in review_file("m.sql", sql, "mysql", Policy.everything()).findings}
    assert {("column.disallow-rename", 4, 11), ("column.disallow-change-type", 4, 20),
            ("system.syntax-error", 5, 28)} <= found


def test_the_garbage_collector_is_paused_only_while_files_are_reviewed():
    import gc
    import threading

    from reviews.engine import registry

    assert gc.isenabled()
    during: list[bool] = []  # what a rule sees while the file is reviewed
    registry.rule("test.gc", engines="P", category="DES", severity="W", summary="test")(
        lambda st, ctx, payload: during.append(gc.isenabled()) or ())
    try:
        review("CREATE TABLE t (id int);")
    finally:
        del registry.RULES["test.gc"]
    assert during == [False] and gc.isenabled()
    review_file("x.sql", "SELECT 1;", "oracle")  # fails inside (unknown dialect): reported, and the collector back on
    assert gc.isenabled()
    # Reviews in several threads: the collector comes back when the last one ends.
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                review("ALTER TABLE t ADD COLUMN c int;\n" * 50)
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and gc.isenabled()
    # A caller that turned the collector off keeps it off.
    gc.disable()
    try:
        review("CREATE TABLE t (id int);")
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "sqlite"])
def test_no_statements_tree_outlives_the_statement(dialect):
    # What the rules remember between statements (column types, the indexes a later duplicate is
    # compared with, their predicates) must not keep the statements' trees alive: memory flat with
    # the size of the file. Counted at the file's end, after a full collection: the nodes still alive
    # are the small pieces kept (a column's type, a predicate) and the last statement's tree (a
    # SELECT), never the tree of an earlier statement.
    import gc

    from reviews.engine import registry

    alive: list[int] = []

    def count(st, ctx, payload):
        gc.collect()
        alive.append(sum(1 for o in gc.get_objects() if type(o) in _STATEMENT_NODES))
        return ()

    registry.rule("test.alive", engines="PMS", category="DES", severity="W", summary="test", at_end=True)(count)
    sql = "".join(f"CREATE TABLE t{i} (id int PRIMARY KEY, a int, b text);\n"
                  f"CREATE INDEX i{i} ON t{i} (a) WHERE a > 0;\n"
                  f"ALTER TABLE t{i} ADD COLUMN c int NOT NULL DEFAULT 0;\n"
                  f"UPDATE t{i} SET a = 1 WHERE b IS NULL;\n" for i in range(50)) + "SELECT 1;\n"
    try:
        findings = review_file("m.sql", sql, dialect, Policy.everything()).findings
    finally:
        del registry.RULES["test.alive"]
    assert alive == [0] and findings


@pytest.mark.parametrize("header", [
    "", "-- sluice:transaction off\n", "-- Sluice: Transaction OFF\n-- sluice:lock-timeout 2s\n",
    "-- a header\n\n-- sluice:statement-timeout 1.5min\n", "--sluice:lock-timeout 500ms\n",
    "-- sluice:transaction on\n-- sluice:statement-timeout 1h\n",
    "-- not leading:\nSELECT 1;\n-- sluice:ignore table.disallow-drop\n",
])
def test_the_review_reads_run_directives_as_the_loader_does(header):
    # The runner applies what releases.loader reads; the review's file model must agree with it.
    from releases.loader import parse_directives
    from reviews.engine.core import _run_directives
    from reviews.engine.model import FileContext

    text = header + "ALTER TABLE t ADD COLUMN a int;\n"
    directives = parse_directives("0001_x.sql", text)
    ctx = FileContext(path="0001_x.sql", dialect="postgres")
    _run_directives(ctx, text)
    assert (ctx.transaction_off, ctx.lock_timeout_set, ctx.statement_timeout_set) == (
        not directives.transaction, directives.lock_timeout_ms is not None, directives.statement_timeout_ms is not None)


def _transaction_findings(sql: str, dialect: str) -> list[tuple[str, int]]:
    review = review_file("0001_x.sql", sql.encode(), dialect, Policy.everything())
    return sorted((f.rule, f.line) for f in review.findings if f.rule.startswith("statement.") and (
        "transaction" in f.rule or "mix-in-ddl" in f.rule or "robust" in f.rule))


def test_mysql_ddl_commits_the_open_transaction():
    # START TRANSACTION; ALTER …: MySQL commits before the ALTER, and what follows autocommits.
    found = _transaction_findings("START TRANSACTION;\nALTER TABLE t ADD COLUMN c int;\n"
                                  "UPDATE t SET a = 5 WHERE id = 1;\n", "mysql")
    assert ("statement.uncommitted-transaction", 1) not in found
    mix = [f for f in review_file("x.sql", b"ALTER TABLE t ADD COLUMN c int;\nUPDATE t SET a = 5 WHERE id = 1;\n",
                                  "mysql", Policy.recommended()).findings if f.rule == "statement.disallow-mix-in-ddl"]
    assert mix and "holds the DDL locks" not in mix[0].message and "cannot be batched" in mix[0].message
    # Without DDL, an unfinished transaction is still one.
    assert ("statement.uncommitted-transaction", 1) in _transaction_findings(
        "START TRANSACTION;\nUPDATE t SET a = 5 WHERE id = 1;\n", "mysql")


def test_a_mariadb_compound_block_is_no_transaction():
    sql = ("DELIMITER //\nBEGIN NOT ATOMIC\n  IF 1 = 1 THEN\n    ALTER TABLE t ADD COLUMN c2 int;\n  END IF;\n"
           "END //\nDELIMITER ;\n")
    assert not [f for f in _transaction_findings(sql, "mysql") if "uncommitted" in f[0] or "nesting" in f[0]]


def test_commit_and_chain_begins_the_next_transaction():
    sql = ("BEGIN;\nALTER TABLE t ADD COLUMN c int;\nCOMMIT AND CHAIN;\nALTER TABLE t ADD COLUMN d int;\nCOMMIT;\n")
    assert ("statement.transaction-nesting", 5) not in _transaction_findings(sql, "postgres")
    unfinished = "BEGIN;\nALTER TABLE t ADD COLUMN c int;\nCOMMIT AND CHAIN;\nALTER TABLE t ADD COLUMN d int;\n"
    assert ("statement.uncommitted-transaction", 3) in _transaction_findings(unfinished, "postgres")
    assert not _transaction_findings("BEGIN;\nSELECT 1;\nCOMMIT AND NO CHAIN;\n", "postgres")


def test_refresh_concurrently_runs_in_a_transaction():
    found = _transaction_findings("CREATE TABLE reports (id bigint PRIMARY KEY);\n"
                                  "REFRESH MATERIALIZED VIEW CONCURRENTLY order_totals;\n", "postgres")
    assert not [f for f in found if f[0] == "statement.prefer-robust-stmts"]


def test_a_table_created_in_another_schema_leaves_the_original_existing():
    # Backing a table up into another schema first is what the drop rules advise: the original is
    # still an existing table.
    sql = ("CREATE TABLE backup.users AS TABLE public.users;\nALTER TABLE public.users DROP COLUMN legacy_flag;\n"
           "TRUNCATE public.users;\nDROP TABLE public.users;\nDROP TABLE backup.users;\n")
    review = review_file("0001_x.sql", sql.encode(), "postgres", Policy.recommended())
    found = {(f.rule, f.line) for f in review.findings}
    assert {("column.disallow-drop", 2), ("statement.disallow-truncate", 3), ("table.disallow-drop", 4)} <= found
    assert ("table.disallow-drop", 5) not in found
    # public is the default schema: "Public"."T" and t are one table.
    review = review_file("0002_x.sql", b'CREATE TABLE "public"."T2" (id int);\nDROP TABLE t2;\n', "postgres",
                         Policy.recommended())
    assert not [f for f in review.findings if f.rule == "table.disallow-drop"]


def test_a_tracker_runs_only_for_a_policy_that_reads_it(monkeypatch):
    from reviews.engine import registry

    seen: list[str] = []
    monkeypatch.setattr(registry, "TRACKERS", [*registry.TRACKERS, (
        frozenset({"postgres"}), frozenset({"CREATE"}), frozenset({"table.comment"}),
        lambda st, ctx: seen.append(st.norm.split()[1]))])
    monkeypatch.setattr("reviews.engine.policy.TRACKERS", registry.TRACKERS)
    sql = b"CREATE TABLE t (id int);\nALTER TABLE t ADD COLUMN c int;\n"
    review_file("0001_x.sql", sql, "postgres", Policy.recommended())  # table.comment is off there
    assert seen == []
    review_file("0001_x.sql", sql, "postgres", Policy.everything())
    assert seen == ["TABLE"]
    review_file("0001_x.sql", sql, "mysql", Policy.everything())
    assert seen == ["TABLE"]


def test_the_file_model_follows_a_column_type_change():
    # The int key widened before the ALTER that makes it the primary key: nothing to report.
    sql = ("CREATE TABLE l (id integer NOT NULL, name text);\nALTER TABLE l ALTER COLUMN id TYPE bigint;\n"
           "ALTER TABLE ONLY l ADD CONSTRAINT l_pkey PRIMARY KEY (id);\n")
    review = review_file("0001_x.sql", sql.encode(), "postgres", Policy.recommended())
    assert not [f for f in review.findings if f.rule == "column.prefer-bigint-over-int"]
    narrow = sql.replace("ALTER TABLE l ALTER COLUMN id TYPE bigint;\n", "")
    review = review_file("0001_x.sql", narrow.encode(), "postgres", Policy.recommended())
    assert [f.line for f in review.findings if f.rule == "column.prefer-bigint-over-int"] == [2]


def test_a_file_of_plain_statements_runs_in_the_runners_transaction_and_one_begin_takes_it_away():
    from reviews.engine.model import FileContext
    from reviews.splitter import split

    def runner_transaction(sql: str) -> bool:
        return FileContext(path="x.sql", dialect="postgres", statements=split(sql, "postgres")).runner_transaction

    plain = "INSERT INTO t VALUES (1);\nUPDATE t SET a = 2;\nCREATE TABLE u (id int);\n"
    assert runner_transaction(plain)
    assert not runner_transaction(plain + "/* done */ COMMIT;\n")
    assert not runner_transaction("CREATE INDEX CONCURRENTLY i ON t (a);\n" + plain)


def test_the_review_asks_the_runners_own_autocommit_test_without_loading_a_database_driver():
    import subprocess
    import sys
    from pathlib import Path

    from releases.runner.adapters.autocommit import BY_ENGINE
    from releases.runner.adapters.mysql import MySQLAdapter
    from releases.runner.adapters.postgres import PostgresAdapter
    from releases.runner.adapters.sqlite import SQLiteAdapter

    # The very functions the runner applies files with (one source of truth) …
    assert PostgresAdapter.needs_autocommit is BY_ENGINE["postgres"]
    assert SQLiteAdapter.needs_autocommit is BY_ENGINE["sqlite"]
    assert [MySQLAdapter.needs_autocommit(t) for t in ("VACUUM", "OPTIMIZE TABLE t")] == [False, False]
    assert [BY_ENGINE["mysql"](t) for t in ("VACUUM", "OPTIMIZE TABLE t")] == [False, False]
    # … read without psycopg or PyMySQL: a pre-commit hook reviewing one file does not pay for them.
    script = (
        "import sys\n"
        "from reviews.engine import Policy, review_file\n"
        "from reviews.engine.model import FileContext\n"
        "from reviews.splitter import split\n"
        "for dialect in ('postgres', 'sqlite'):\n"
        "    sql = 'ALTER TABLE a RENAME TO b;\\nCREATE VIEW a AS SELECT * FROM b;\\nVACUUM;\\n'\n"
        "    review_file('0001_x.sql', sql, dialect, Policy.everything())\n"
        "    ctx = FileContext(path='x.sql', dialect=dialect, statements=split(sql, dialect))\n"
        "    assert not ctx.runner_transaction and ctx.runner_autocommit('VACUUM')\n"
        "print(sorted(m for m in ('psycopg', 'pymysql') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


_STATEMENT_NODES = frozenset({exp.Create, exp.Alter, exp.Update, exp.Index, exp.Schema, exp.ColumnDef})
