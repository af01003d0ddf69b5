from __future__ import annotations

import pytest

from releases.loader import LoadError, checksum, load_dir, load_files, parse_duration, version_key


def load_one(name: str, content: bytes | str):
    data = content.encode() if isinstance(content, str) else content
    return load_files([(name, data)])[0]


def problems_of(items) -> list[str]:
    with pytest.raises(LoadError) as info:
        load_files(items)
    return [str(p) for p in info.value.problems]


def test_it_reads_version_description_and_kind():
    mf = load_one("202501150901_seed_initial_data_dml.sql", "INSERT INTO t VALUES (1);")
    assert (mf.version, mf.description, mf.kind) == ("202501150901", "seed_initial_data_dml", "dml")
    ddl = load_one("V1.2__add_user_table.sql", "CREATE TABLE t (id int);")
    assert (ddl.version, ddl.key, ddl.description, ddl.kind) == ("1.2", (1, 2), "add_user_table", "ddl")


def test_it_orders_versions_numerically_part_by_part(migrations):
    for name in ["1.10_c.sql", "1.2.0_b.sql", "1.2_a.sql", "20250115_x.sql", "202501150900_y.sql", "9_z.sql"]:
        migrations.write(name, "SELECT 1;")
    assert [mf.version for mf in load_dir(migrations.path)] == [
        "1.2", "1.2.0", "1.10", "9", "20250115", "202501150900",
    ]
    assert version_key("1.2") < version_key("1.2.0") < version_key("1.10")


def test_it_finds_files_in_subfolders_with_posix_paths(migrations):
    migrations.write("2025/01/0002_b.sql", "SELECT 2;")
    migrations.write("0001_a.sql", "SELECT 1;")
    migrations.write("README.md", "not a migration")
    assert [mf.path for mf in load_dir(migrations.path)] == ["0001_a.sql", "2025/01/0002_b.sql"]


def test_checksum_ignores_bom_and_line_endings_only():
    lf = checksum("CREATE TABLE t (id int);\nSELECT 1;\n")
    assert lf.startswith("v1:") and len(lf) == 3 + 64
    assert checksum("\ufeffCREATE TABLE t (id int);\r\nSELECT 1;\r\n") == lf
    assert checksum("CREATE TABLE t (id int);\rSELECT 1;\r") == lf
    assert checksum("CREATE TABLE t (id bigint);\nSELECT 1;\n") != lf


def test_bom_is_removed_from_the_text_that_runs():
    mf = load_one("1_a.sql", b"\xef\xbb\xbfSELECT 1;")
    assert mf.sql == "SELECT 1;"


def test_it_reports_every_bad_name_with_the_expected_form():
    found = problems_of([("add_users.sql", b"SELECT 1;"), ("1.sql", b"SELECT 1;"), ("v1_ok.sql", b"SELECT 1;")])
    assert len(found) == 2
    assert found[0].startswith("1.sql: bad migration file name: expected <version>_<description>.sql")
    assert found[1].startswith("add_users.sql: bad migration file name")


def test_it_refuses_duplicate_versions_naming_both_files():
    found = problems_of([("01_a.sql", b"SELECT 1;"), ("1_b.sql", b"SELECT 2;")])
    assert found == ["1_b.sql: duplicate version 1: 01_a.sql has the same version"]


def test_it_refuses_non_utf8_bytes_with_line_and_offset():
    data = b"SELECT 1;\nSELECT '\xe9t\xe9';\n"
    found = problems_of([("1_latin1.sql", data)])
    assert found == [
        "1_latin1.sql:2 (byte offset 18): is not valid UTF-8: byte 0xe9 cannot be decoded; re-save it as UTF-8"
    ]


def test_it_refuses_utf16_and_nul_bytes():
    assert problems_of([("1_u.sql", "SELECT 1;".encode("utf-16"))]) == [
        "1_u.sql (byte offset 0): is UTF-16 encoded; re-save it as UTF-8"
    ]
    assert problems_of([("1_n.sql", b"SELECT 1;\n\x00")]) == [
        "1_n.sql:2 (byte offset 10): contains a NUL byte; re-save it as UTF-8 text"
    ]


@pytest.mark.parametrize("content", [b"", b"  \n\r\n\t", b"\xef\xbb\xbf\n"])
def test_it_refuses_an_empty_file(content):
    assert problems_of([("1_empty.sql", content)]) == [
        "1_empty.sql: is empty: a migration needs at least one statement"
    ]


def test_it_collects_all_problems_of_a_folder_at_once(migrations):
    migrations.write("bad name.sql", "SELECT 1;")
    migrations.write("1_empty.sql", "")
    migrations.write("2_ok.sql", "SELECT 1;")
    with pytest.raises(LoadError) as info:
        load_dir(migrations.path)
    assert [p.file for p in info.value.problems] == ["1_empty.sql", "bad name.sql"]


def test_it_reads_directives_from_the_leading_comment_block():
    mf = load_one(
        "1_idx.sql",
        "-- Adds the index.\n-- sluice:transaction off\n--sluice:lock-timeout 5s\n"
        "-- sluice:statement-timeout 30min\n-- sluice:ignore index.create-concurrently, table.require-pk\n\n"
        "CREATE INDEX CONCURRENTLY i ON t (a);\n",
    )
    d = mf.directives
    assert d.transaction is False
    assert (d.lock_timeout_ms, d.statement_timeout_ms) == (5000, 1_800_000)
    assert d.ignore == ("index.create-concurrently", "table.require-pk")
    assert load_one("2_plain.sql", "SELECT 1;").directives.transaction is True


@pytest.mark.parametrize(
    "content, message",
    [
        ("-- sluice:transaction maybe\nSELECT 1;", "1_d.sql:1: sluice:transaction takes 'on' or 'off', not 'maybe'"),
        ("-- sluice:lock-timeout 5 seconds\nSELECT 1;",
         "1_d.sql:1: sluice:lock-timeout: expected a duration such as 500ms, 5s, 30min or 1h, not '5 seconds'"),
        ("--\n-- sluice:transation off\nSELECT 1;",
         "1_d.sql:2: unknown directive sluice:transation; expected transaction, lock-timeout, "
         "statement-timeout or ignore"),
        ("SELECT 1;\n-- sluice:transaction off\nSELECT 2;",
         "1_d.sql:2: sluice:transaction must be in the leading comment block, before the first statement"),
    ],
)
def test_a_bad_directive_is_a_located_error(content, message):
    assert problems_of([("1_d.sql", content.encode())]) == [message]


def test_an_ignore_directive_above_a_statement_is_allowed():
    mf = load_one("1_a.sql", "SELECT 1;\n-- sluice:ignore table.disallow-drop\nDROP TABLE t;")
    assert mf.directives.ignore == ()


def test_durations():
    assert [parse_duration(v) for v in ["500ms", "5s", "1.5s", "2min", "1h"]] == [500, 5000, 1500, 120_000, 3_600_000]


def test_a_missing_folder_is_an_error(tmp_path):
    with pytest.raises(LoadError, match="is not a folder"):
        load_dir(tmp_path / "nope")


@pytest.mark.parametrize(
    "content, message",
    [
        ("-- sluice transaction off\nSELECT 1;",
         "1_d.sql:1: this reads as the directive sluice:transaction without its colon, which would be ignored"),
        ("-- Adds t.\n--  Sluice-lock-timeout 5s\nSELECT 1;",
         "1_d.sql:2: this reads as the directive sluice:lock-timeout without its colon"),
        ("SELECT 1;\n-- sluice ignore table.disallow-drop\nDROP TABLE t;",
         "1_d.sql:2: this reads as the directive sluice:ignore without its colon"),
        ("-- sluice:transaction off\n-- sluice:transaction on\nSELECT 1;",
         "1_d.sql:2: sluice:transaction is given twice (also on line 1): keep one"),
        ("-- sluice:lock-timeout 5s\n-- sluice:lock-timeout 5s\nSELECT 1;",
         "1_d.sql:2: sluice:lock-timeout is given twice (also on line 1): keep one"),
        ("SELECT 1;\n-- sluice:ignroe table.disallow-drop\nDROP TABLE t;",
         "1_d.sql:2: unknown directive sluice:ignroe; only sluice:ignore may stand above a statement"),
    ],
)
def test_a_misspelt_or_repeated_directive_is_a_located_error(content, message):
    problems = problems_of([("1_d.sql", content.encode())])
    assert len(problems) == 1 and problems[0].startswith(message)


def test_a_directive_with_a_dash_for_its_space_is_an_unknown_directive():
    assert problems_of([("1_d.sql", b"-- sluice:transaction-off\nSELECT 1;")]) == [
        "1_d.sql:1: unknown directive sluice:transaction-off; expected transaction, lock-timeout, "
        "statement-timeout or ignore"]


def test_ordinary_comments_that_mention_sluice_are_not_directives():
    mf = load_one("1_a.sql", "-- Sluice runs this file in one transaction.\n-- sluice transaction handling is ours\n"
                             "-- sluice ignore this\n-- sluice:ignore table.disallow-drop\nDROP TABLE t;\n"
                             "-- sluice:ignore table.disallow-drop\nDROP TABLE u;\n")
    assert mf.directives.transaction is True
    assert mf.directives.ignore == ("table.disallow-drop",)
