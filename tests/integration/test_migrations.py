"""The migrations are the schema: they build it on both backends and match the models."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import Result
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from ledger.domain.territories import parse_territory
from ledger.persistence.database import (
    SCHEMA_HEAD,
    alembic_config,
    head_revision,
    make_engine,
    schema_state,
    upgrade,
)
from ledger.persistence.schema import Base
from ledger.services.audit import verify
from ledger.services.ledger import Ledger
from ledger.services.queries import Period, expiring, who_holds
from tests.conftest import grant_add, seed_real


def test_the_migrated_database_matches_the_models(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.connect() as conn:
        differences = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    assert differences == []


def test_a_migrated_database_is_at_the_head_revision(db_url: str) -> None:
    state = schema_state(make_engine(db_url))
    assert state.current == head_revision()
    assert state.up_to_date


def test_the_database_itself_refuses_to_edit_or_delete_journal_entries(db_url: str) -> None:
    engine = make_engine(db_url)
    Ledger(engine, actor="tester").add_party("cj-enm", "CJ E&M")
    for statement in ("UPDATE journal SET actor = 'mallory'", "DELETE FROM journal"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT actor FROM journal")).scalar_one() == "tester"


def test_an_sqlite_ledger_is_created_and_migrated_on_first_use(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "first.db"
    engine = make_engine(f"sqlite:///{path}")
    Ledger(engine, actor="tester")
    assert path.exists()
    assert schema_state(engine).up_to_date


def test_migrations_downgrade_to_nothing_and_back(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert schema_state(engine).current is None
    upgrade(engine)
    assert schema_state(engine).up_to_date


def test_the_schema_head_every_command_checks_is_the_newest_migration() -> None:
    assert head_revision() == SCHEMA_HEAD


def _ledger_at(db_url: str, revision: str) -> Engine:
    """An empty ledger whose schema stands at `revision`."""
    engine = make_engine(db_url)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    upgrade(engine, revision)
    return engine


def _insert(engine: Engine, statements: list[str]) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement), {"no": False, "yes": True})


def test_upgrading_an_existing_ledger_gives_its_territory_terms_their_grants_days(
    db_url: str,
) -> None:
    engine = _ledger_at(db_url, "0002")
    rows = [
        "INSERT INTO party (id, name) VALUES ('owner', 'Owner'), ('licensee', 'Licensee')",
        "INSERT INTO title (id, name, kind) VALUES ('real', 'Real', 'film')",
        "INSERT INTO agreement (ref, status, standing) VALUES ('A-1', 'signed', 'signed')",
    ]
    grant = (
        "INSERT INTO rights_grant (id, agreement_ref, title_id, grantor_id, grantee_id, rights,"
        " territory, start, exclusivity, first_day, last_day, recorded_seq) VALUES"
        " ({id}, 'A-1', 'real', 'owner', 'licensee', 'svod', 'WW -CN', '{start}', 'exclusive',"
        " {first}, {last}, {id})"
    )
    rows.append(grant.format(id=1, start="2020-01-01", first="'2020-01-01'", last="'2024-12-31'"))
    rows.append(grant.format(id=2, start="theatrical+90d", first="NULL", last="NULL"))
    rows.append(
        "INSERT INTO grant_territory (grant_id, code, excluded) VALUES"
        " (1, 'WW', :no), (1, 'CN', :yes), (2, 'WW', :no), (2, 'CN', :yes)"
    )
    _insert(engine, rows)
    upgrade(engine)
    with engine.connect() as conn:
        terms = conn.execute(
            text("SELECT grant_id, code, from_day, to_day FROM grant_territory ORDER BY 1, 2")
        ).all()
    spans = {(grant_id, code): (str(first), str(last)) for grant_id, code, first, last in terms}
    assert spans == {
        (1, "CN"): ("2020-01-01", "2024-12-31"),
        (1, "WW"): ("2020-01-01", "2024-12-31"),
        (2, "CN"): ("0001-01-01", "9999-12-31"),
        (2, "WW"): ("0001-01-01", "9999-12-31"),
    }


def test_upgrading_an_existing_ledger_gives_its_territory_terms_what_holders_shows(
    db_url: str,
) -> None:
    engine = _ledger_at(db_url, "0003")
    rows = [
        "INSERT INTO party (id, name) VALUES ('owner', 'Owner'), ('licensee', 'Licensee')",
        "INSERT INTO title (id, name, kind) VALUES ('real', 'Real', 'film')",
        "INSERT INTO agreement (ref, status, standing) VALUES ('A-1', 'signed', 'signed')",
        "INSERT INTO rights_grant (id, agreement_ref, title_id, grantor_id, grantee_id, rights,"
        " territory, start, exclusivity, first_day, last_day, recorded_seq) VALUES"
        " (1, 'A-1', 'real', 'owner', 'licensee', 'svod;pay-tv', 'WW -CN', '2020-01-01',"
        " 'sole', '2020-01-01', '2024-12-31', 1)",
        "INSERT INTO grant_territory (grant_id, code, excluded, from_day, to_day) VALUES"
        " (1, 'WW', :no, '2020-01-01', '2024-12-31'), (1, 'CN', :yes, '2020-01-01', '2024-12-31')",
    ]
    _insert(engine, rows)
    upgrade(engine, "0004")
    with engine.connect() as conn:
        terms = conn.execute(
            text(
                "SELECT code, title_id, agreement_ref, grantor_id, grantee_id, rights, territory,"
                " exclusivity, start FROM grant_territory ORDER BY code"
            )
        ).all()
    carried = ("real", "A-1", "owner", "licensee", "svod;pay-tv", "WW -CN", "sole", "2020-01-01")
    assert [tuple(term) for term in terms] == [("CN", *carried), ("WW", *carried)]


def _ledger_at_0008_with_a_grant_in_greater_china(db_url: str) -> Engine:
    engine = _ledger_at(db_url, "0008")
    carried = "'real', 'A-1', 'owner', 'licensee', 'svod;pay-tv', 'GREATER-CHINA', 'sole'"
    _insert(
        engine,
        [
            "INSERT INTO party (id, name) VALUES ('owner', 'Owner'), ('licensee', 'Licensee')",
            "INSERT INTO title (id, name, kind) VALUES ('real', 'Real', 'film')",
            "INSERT INTO agreement (ref, status, standing) VALUES ('A-1', 'signed', 'signed')",
            "INSERT INTO rights_grant (id, agreement_ref, title_id, grantor_id, grantee_id,"
            " rights, territory, exclusivity, start, first_day, last_day, recorded_seq) VALUES"
            " (7, 'A-1', 'real', 'owner', 'licensee', 'svod;pay-tv', 'GREATER-CHINA', 'sole',"
            " 'theatrical+90d', NULL, '2024-12-31', 1)",
            "INSERT INTO grant_territory (grant_id, code, excluded, from_day, to_day, title_id,"
            " agreement_ref, grantor_id, grantee_id, rights, territory, exclusivity, start)"
            " VALUES (7, 'GREATER-CHINA', :no, '0001-01-01', '2024-12-31',"
            f" {carried}, 'theatrical+90d')",
        ],
    )
    return engine


def test_upgrading_an_existing_ledger_gives_holders_each_grants_holding_as_before(
    db_url: str,
) -> None:
    engine = _ledger_at_0008_with_a_grant_in_greater_china(db_url)
    upgrade(engine)
    with engine.connect() as conn:
        holdings = who_holds(
            conn, parse_territory("HK"), Period(date(2024, 1, 1), date(2024, 1, 1))
        )
    assert [held.as_json() for held in holdings] == [
        {
            "title": "real",
            "rights": ["pay-tv", "svod"],
            "holder": "licensee",
            "grantor": "owner",
            "exclusivity": "sole",
            "grant": "G7",
            "agreement": "A-1",
            "status": "signed",
            "territory": "GREATER-CHINA",
            "start": None,
            "end": "2024-12-31",
            "chain": ["owner", "licensee"],
            "pending": False,
            "countries": ["HK"],
            "note": "sole: owner may still exploit; starts theatrical+90d (TBD)",
            "matching_rights": ["pay-tv", "svod"],
        }
    ]


def test_downgrading_a_ledger_from_one_holding_text_gives_back_its_columns(db_url: str) -> None:
    engine = _ledger_at_0008_with_a_grant_in_greater_china(db_url)
    upgrade(engine)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0008")
        term = conn.execute(
            text(
                "SELECT agreement_ref, grantor_id, grantee_id, rights, exclusivity, start"
                " FROM grant_territory"
            )
        ).one()
    assert tuple(term) == ("A-1", "owner", "licensee", "svod;pay-tv", "sole", "theatrical+90d")


def test_upgrading_a_ledger_to_an_indexed_journal_hash_keeps_every_entry_and_its_guards(
    db_url: str,
) -> None:
    engine = make_engine(db_url)
    ledger = Ledger(engine, actor="tester")
    ledger.add_party("cj-enm", "CJ E&M")
    ledger.add_party("alibaba-pictures", "Alibaba Pictures")
    before = verify(engine)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0005")
    with engine.connect() as conn:
        kept = conn.execute(text("SELECT seq, hash FROM journal ORDER BY seq")).all()
    upgrade(engine)
    after = verify(engine)
    assert after.intact, after.problem
    assert after.entries == before.entries == 2
    assert after.head == before.head
    with engine.connect() as conn:
        assert conn.execute(text("SELECT seq, hash FROM journal ORDER BY seq")).all() == kept
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("DELETE FROM journal"))


def test_the_day_indexes_made_partial_still_answer_every_expiry_and_notice(
    db_url: str, run: Callable[..., Result]
) -> None:
    seed_real(run)
    run(*grant_add("ALI-REAL-2016", "real-producer", "iqiyi", "svod", "KR", "2020-01-01",
                   "2027-02-28", "non-exclusive", "--notice", "2027-01-15"))  # fmt: skip
    run(*grant_add("ALI-REAL-2016", "real-producer", "iqiyi", "avod", "JP", "2020-01-01",
                   None, "non-exclusive"))  # fmt: skip
    engine = make_engine(db_url)
    with engine.connect() as conn:
        before = expiring(conn, date(2026, 12, 1), 90)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0006")
    upgrade(engine)
    with engine.connect() as conn:
        after = expiring(conn, date(2026, 12, 1), 90)
    assert after == before
    assert {(e.kind, e.end) for e in after} == {
        ("grant", date(2026, 12, 31)),  # the seed's sole distribution licence in CN
        ("notice", date(2027, 1, 15)),
        ("grant", date(2027, 2, 28)),
    }
