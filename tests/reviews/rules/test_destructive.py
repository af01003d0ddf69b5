from __future__ import annotations

import pytest

from tests.reviews.rules.helpers import findings, flags


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "sqlite"])
def test_drop_table_of_an_existing_table(dialect):
    [found] = findings("DROP TABLE customers;", dialect, "table.disallow-drop")
    assert found.severity == "error" and (found.line, found.column) == (1, 1)
    assert "drop it in a later release" in found.message


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "sqlite"])
def test_drop_of_a_table_created_in_the_same_file_is_fine(dialect):
    assert not flags("CREATE TABLE tmp (id int);\nDROP TABLE tmp;", dialect, "table.disallow-drop")


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
def test_drop_database(dialect):
    assert flags("DROP DATABASE shop;", dialect, "database.disallow-drop")
    assert not flags("DROP TABLE database_logs;", dialect, "database.disallow-drop")


def test_mysql_drop_schema_is_drop_database():
    assert flags("DROP SCHEMA shop;", "mysql", "database.disallow-drop")
    assert not flags("DROP SCHEMA shop;", "postgres", "database.disallow-drop")
