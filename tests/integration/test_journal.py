"""The journal as evidence: append-only, hash-chained, replayable, movable between backends.

Every ledger here is built through the CLI; tampering is done behind the tool's back with
plain SQL after dropping the journal's triggers, as someone with database access would.
"""

from __future__ import annotations

import getpass
import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

from cli.main import cli
from ledger.errors import BadInput
from ledger.persistence.database import make_engine, upgrade
from ledger.persistence.journal import canonical_json, entry_hash
from ledger.services.audit import journal_entries
from tests.conftest import PostgresDatabases, as_json, grant_add, seed_real

Run = Callable[..., Result]
Journal = list[dict[str, Any]]


# -- building a ledger through the CLI ---------------------------------------------------


def build_ledger(run: Run) -> None:
    """A ledger that touches every state table and every kind of journal entry.

    Entries: 1-3 parties, 4 title real, 5 agreement ALI-REAL-2016, 6 G1, 7 party cj-enm,
    8 title miss-granny (co-owned), 9 release event, 10 agreement signed, 11 agreement
    IQ-1, 12 G2 (with a holdback), 13 G3 (allowed conflict), 14 amend G1, 15 terminate G2.
    """
    seed_real(run, status="mou")
    run("party", "add", "cj-enm", "--name", "CJ ENM", "--country", "KR")
    run(
        "title",
        "add",
        "miss-granny",
        "--name",
        "Miss Granny",
        "--year",
        "2014",
        "--owner",
        "cj-enm:WW -CN:60",
        "--owner",
        "real-producer:CN:40",
    )
    run(
        "title",
        "event",
        "real",
        "--kind",
        "theatrical",
        "--territory",
        "CN",
        "--date",
        "2017-07-01",
    )
    run("agreement", "sign", "ALI-REAL-2016", "--on", "2016-12-01")
    run("agreement", "add", "IQ-1", "--parties", "real-producer,iqiyi", "--status", "signed")
    run(
        *grant_add(
            "IQ-1",
            "real-producer",
            "iqiyi",
            "pay-tv",
            "WW -CN -HK",
            "2018-01-01",
            None,
            "exclusive",
            "--holdback",
            "svod@JP@2019-06-30",
            term="5y",
        ),
    )
    run(
        *grant_add(
            "IQ-1",
            "real-producer",
            "iqiyi",
            "svod",
            "CN",
            "2018-01-01",
            "2018-12-31",
            "exclusive",
            "--allow-conflicts",
            "--reason",
            "board approved the overlap",
        ),
    )
    run(
        "grant",
        "amend",
        "G1",
        "--end",
        "2028-12-31",
        "--reason",
        "two-year extension",
        "--allow-conflicts",
    )
    run("grant", "terminate", "G2", "--on", "2020-12-31", "--reason", "licensee insolvent")


def journal(run: Run, *subject: str) -> Journal:
    rows = as_json(run("history", *subject, "--format", "json"))
    assert isinstance(rows, list)
    return rows


@pytest.fixture
def built(run: Run) -> Journal:
    build_ledger(run)
    return journal(run)


@pytest.fixture
def raw(db_url: str) -> Iterator[Engine]:
    """A plain engine on the test database: no pragmas, no triggers of the tool's own."""
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    yield engine
    engine.dispose()


def drop_triggers(engine: Engine) -> None:
    on = " ON journal" if engine.dialect.name == "postgresql" else ""
    with engine.begin() as conn:
        for action in ("update", "delete"):
            conn.execute(text(f"DROP TRIGGER journal_no_{action}{on}"))


def restore_triggers(engine: Engine) -> None:
    """Put the guards back as the migration made them, as a careful tamperer would."""
    with engine.begin() as conn:
        for action in ("update", "delete"):
            if engine.dialect.name == "postgresql":
                conn.execute(
                    text(
                        f"CREATE TRIGGER journal_no_{action} BEFORE {action.upper()} ON journal "
                        "FOR EACH ROW EXECUTE FUNCTION journal_refuse_change()"
                    )
                )
            else:
                conn.execute(
                    text(
                        f"CREATE TRIGGER journal_no_{action} BEFORE {action.upper()} ON journal "
                        "BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END"
                    )
                )


def sql(engine: Engine, *statements: str, **params: Any) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement), params)


def verify(run: Run, expect: int) -> str:
    result = run("verify", expect=expect)
    return result.stdout + result.stderr


def seq_of(entries: Journal, kind: str, subject: str | None = None) -> int:
    found = [e["seq"] for e in entries if e["kind"] == kind and subject in (None, e["subject"])]
    assert found, f"no {kind} entry about {subject}"
    return int(found[0])


# -- an untouched ledger -----------------------------------------------------------------


def test_an_untouched_ledger_verifies_with_a_one_line_summary(run: Run, built: Journal) -> None:
    result = run("verify")
    assert result.stdout.count("\n") == 1
    assert result.stdout.startswith("intact:")
    assert f"{len(built)} journal entries" in result.stdout
    assert built[-1]["hash"] in result.stdout


def test_an_empty_ledger_verifies(run: Run) -> None:
    assert run("verify").stdout.startswith("intact: 0 journal entries")


def test_the_ledger_builder_records_one_entry_per_change(built: Journal) -> None:
    kinds = [e["kind"] for e in built]
    assert kinds.count("grant.added") == 3
    assert {
        "party.added",
        "title.added",
        "event.recorded",
        "agreement.added",
        "agreement.signed",
        "grant.amended",
        "grant.terminated",
    } <= set(kinds)
    assert [e["seq"] for e in built] == list(range(1, len(built) + 1))


def test_verify_keeps_passing_as_the_ledger_grows(run: Run, built: Journal) -> None:
    run("agreement", "terminate", "IQ-1", "--on", "2021-06-30", "--reason", "wound up")
    run("party", "add", "skydance", "--name", "Skydance")
    assert run("verify").stdout.startswith(f"intact: {len(built) + 2} journal entries")


# -- the database refuses edits --------------------------------------------------------------


def test_the_database_refuses_to_update_a_journal_entry(raw: Engine, built: Journal) -> None:
    with pytest.raises(DBAPIError, match="append-only"):
        sql(raw, "UPDATE journal SET reason = 'nothing to see' WHERE seq = 6")


def test_the_database_refuses_to_delete_a_journal_entry(raw: Engine, built: Journal) -> None:
    with pytest.raises(DBAPIError, match="append-only"):
        sql(raw, "DELETE FROM journal WHERE seq = :seq", seq=len(built))


def test_the_database_refuses_to_empty_the_journal(raw: Engine, built: Journal) -> None:
    with pytest.raises(DBAPIError, match="append-only"):
        sql(raw, "DELETE FROM journal")
    if raw.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"):
            sql(raw, "TRUNCATE journal")


def test_refused_edits_leave_the_ledger_intact(run: Run, raw: Engine, built: Journal) -> None:
    with pytest.raises(DBAPIError):
        sql(raw, "UPDATE journal SET actor = 'someone else'")
    assert verify(run, expect=0).startswith("intact:")


def test_verify_reports_a_dropped_guard_even_when_nothing_was_edited(
    run: Run, raw: Engine, built: Journal
) -> None:
    drop_triggers(raw)
    report = verify(run, expect=1)
    assert "journal_no_update is missing, disabled or altered" in report


def test_verify_reports_a_disabled_or_defanged_guard(run: Run, raw: Engine, built: Journal) -> None:
    if raw.dialect.name == "postgresql":
        sql(raw, "ALTER TABLE journal DISABLE TRIGGER journal_no_delete")
        assert "journal_no_delete" in verify(run, expect=1)
        sql(raw, "ALTER TABLE journal ENABLE TRIGGER journal_no_delete")
        assert verify(run, expect=0).startswith("intact:")
        sql(
            raw,
            "CREATE OR REPLACE FUNCTION journal_refuse_change() RETURNS trigger AS $$ "
            "BEGIN RETURN NEW; END; $$ LANGUAGE plpgsql",
        )
    else:
        sql(
            raw,
            "DROP TRIGGER journal_no_update",
            "CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal BEGIN SELECT 1; END",
        )
    assert "journal_no_update is missing, disabled or altered" in verify(run, expect=1)


# -- tampering with the journal behind the tool's back ---------------------------------------

# (name, SQL, the entry verify must name); `{last}` is the last entry's seq.
JOURNAL_TAMPERING: list[tuple[str, list[str], str]] = [
    (
        "edit a grant's payload",
        [
            "UPDATE journal SET payload = "
            "replace(payload, '\"CN\"', '\"GREATER-CHINA\"') WHERE seq = 6"
        ],
        "journal entry 6",
    ),
    (
        "edit a reason",
        ["UPDATE journal SET reason = 'approved by nobody' WHERE seq = 13"],
        "journal entry 13",
    ),
    (
        "edit an actor",
        ["UPDATE journal SET actor = 'someone-else' WHERE seq = 3"],
        "journal entry 3",
    ),
    (
        "backdate an entry",
        ["UPDATE journal SET recorded_at = '2016-01-01T00:00:00.000000Z' WHERE seq = 14"],
        "journal entry 14",
    ),
    (
        "edit the kind",
        ["UPDATE journal SET kind = 'grant.added' WHERE seq = {last}"],
        "journal entry {last}",
    ),
    (
        "edit the subject",
        ["UPDATE journal SET subject = 'grant:G1' WHERE seq = {last}"],
        "journal entry {last}",
    ),
    (
        "edit the first entry",
        ["UPDATE journal SET payload = '{{}}' WHERE seq = 1"],
        "journal entry 1",
    ),
    (
        "edit the last entry's payload",
        [
            "UPDATE journal SET payload = replace(payload, '2020-12-31', '2025-12-31') "
            "WHERE seq = {last}"
        ],
        "journal entry {last}",
    ),
    ("replace a hash", ["UPDATE journal SET hash = :fake WHERE seq = 9"], "journal entry 9"),
    ("delete a middle entry", ["DELETE FROM journal WHERE seq = 11"], "entry 11"),
    ("delete the first entry", ["DELETE FROM journal WHERE seq = 1"], "entry 1"),
    (
        "delete a middle entry and close the gap",
        ["DELETE FROM journal WHERE seq = 11", "UPDATE journal SET seq = seq - 1 WHERE seq > 11"],
        "journal entry 11",
    ),
    (
        "swap two entries",
        [
            "UPDATE journal SET seq = -1 WHERE seq = 12",
            "UPDATE journal SET seq = 12 WHERE seq = 13",
            "UPDATE journal SET seq = 13 WHERE seq = -1",
        ],
        "journal entry 12",
    ),
    (
        "swap the last two entries",
        [
            "UPDATE journal SET seq = -1 WHERE seq = {last}",
            "UPDATE journal SET seq = {last} WHERE seq = {last} - 1",
            "UPDATE journal SET seq = {last} - 1 WHERE seq = -1",
        ],
        "journal entry {penultimate}",
    ),
]


@pytest.mark.parametrize(
    ("statements", "named"), [pytest.param(s, n, id=name) for name, s, n in JOURNAL_TAMPERING]
)
def test_verify_names_the_journal_entry_that_was_tampered_with(
    run: Run, raw: Engine, built: Journal, statements: list[str], named: str
) -> None:
    last = len(built)
    drop_triggers(raw)
    sql(raw, *(s.format(last=last) for s in statements), fake="f" * 64)
    report = verify(run, expect=1)
    assert report.count("\n") == 1
    assert "TAMPERED" in report
    assert named.format(last=last, penultimate=last - 1) in report


def test_verify_catches_deleting_the_last_entry_through_the_state_it_left(
    run: Run, raw: Engine, built: Journal
) -> None:
    drop_triggers(raw)
    sql(raw, "DELETE FROM journal WHERE seq = :seq", seq=len(built))
    report = verify(run, expect=1)
    # G2's termination is still in the state tables but no longer in the journal.
    assert "rights_grant row id=2" in report
    assert "terminated_on" in report


def test_verify_catches_a_rewritten_last_entry_whose_hash_was_recomputed(
    run: Run, raw: Engine, built: Journal
) -> None:
    last = built[-1]
    payload = json.dumps({"id": 2, "on": "2030-12-31"}, sort_keys=True, separators=(",", ":"))
    forged = entry_hash(
        last["seq"],
        last["recorded_at"],
        last["actor"],
        last["kind"],
        last["subject"],
        last["reason"],
        payload,
        built[-2]["hash"],
    )
    drop_triggers(raw)
    sql(
        raw,
        "UPDATE journal SET payload = :payload, hash = :hash WHERE seq = :seq",
        payload=payload,
        hash=forged,
        seq=last["seq"],
    )
    report = verify(run, expect=1)
    assert "rights_grant row id=2 differs from the journal (terminated_on" in report


def test_verify_catches_a_truncated_journal_against_a_head_it_printed_earlier(
    run: Run, raw: Engine, built: Journal
) -> None:
    # A no-op entry (a later second termination changes nothing) leaves no trace in the
    # state; only an anchor kept outside the database proves that it existed.
    run("grant", "terminate", "G2", "--on", "2022-12-31", "--reason", "again, later")
    head = journal(run)[-1]
    assert head["hash"] in run("verify").stdout
    drop_triggers(raw)
    sql(raw, "DELETE FROM journal WHERE seq = :seq", seq=head["seq"])
    restore_triggers(raw)
    assert run("verify").stdout.startswith(f"intact: {head['seq'] - 1} journal entries")
    report = verify_with_anchor(run, f"{head['seq']}:{head['hash']}", expect=1)
    assert f"journal entry {head['seq']}" in report
    assert "anchor" in report


def verify_with_anchor(run: Run, anchor: str, expect: int) -> str:
    result = run("verify", "--anchor", anchor, expect=expect)
    return result.stdout + result.stderr


def test_verify_accepts_an_earlier_anchor_on_a_grown_ledger(run: Run, built: Journal) -> None:
    run("party", "add", "skydance", "--name", "Skydance")
    assert verify_with_anchor(run, f"6:{built[5]['hash']}", expect=0).startswith("intact:")
    assert verify_with_anchor(run, built[-1]["hash"][:12], expect=0).startswith("intact:")
    head = run("verify").stdout.split("head ")[1].strip()
    assert verify_with_anchor(run, head, expect=0).startswith("intact:")


def test_verify_catches_a_journal_rewritten_from_an_anchored_entry_on(
    run: Run, raw: Engine, built: Journal
) -> None:
    """Rewriting an entry and re-chaining everything after it defeats the chain alone."""
    anchor = f"{built[-2]['seq']}:{built[-2]['hash']}"
    drop_triggers(raw)
    prev = built[-3]["hash"]
    for entry in built[-2:]:
        reason = "rewritten" if entry is built[-2] else entry["reason"]
        payload = canonical_json(entry["payload"])
        digest = entry_hash(
            entry["seq"],
            entry["recorded_at"],
            entry["actor"],
            entry["kind"],
            entry["subject"],
            reason,
            payload,
            prev,
        )
        sql(
            raw,
            "UPDATE journal SET reason = :reason, prev_hash = :prev, hash = :hash WHERE seq = :seq",
            reason=reason,
            prev=prev,
            hash=digest,
            seq=entry["seq"],
        )
        prev = digest
    restore_triggers(raw)
    assert run("verify").stdout.startswith("intact:")
    report = verify_with_anchor(run, anchor, expect=1)
    assert f"journal entry {built[-2]['seq']} no longer matches the anchor" in report
    assert "not in the journal" in verify_with_anchor(run, built[-2]["hash"], expect=1)


def test_verify_rejects_an_anchor_that_is_not_a_hash(run: Run, built: Journal) -> None:
    run("verify", "--anchor", "not-a-hash", expect=2)


def test_verify_reports_a_forged_entry_that_cannot_be_replayed(
    run: Run, raw: Engine, built: Journal
) -> None:
    last = built[-1]
    seq, stamp = last["seq"] + 1, last["recorded_at"]
    payload = '{"id":"x"}'
    forged = entry_hash(
        seq, stamp, "mallory", "grant.vanished", "grant:G1", None, payload, last["hash"]
    )
    sql(
        raw,
        "INSERT INTO journal (seq, recorded_at, actor, kind, subject, reason, payload, "
        "prev_hash, hash) VALUES (:seq, :stamp, 'mallory', 'grant.vanished', 'grant:G1', "
        "NULL, :payload, :prev, :hash)",
        seq=seq,
        stamp=stamp,
        payload=payload,
        prev=last["hash"],
        hash=forged,
    )
    report = verify(run, expect=1)
    assert f"journal entry {seq}" in report
    assert "Traceback" not in report


# -- tampering with the derived state ------------------------------------------------------

STATE_TAMPERING: list[tuple[str, list[str], str]] = [
    (
        "widen a grant's territory",
        ["UPDATE rights_grant SET territory = 'GREATER-CHINA' WHERE id = 1"],
        "rights_grant row id=1 differs from the journal (territory)",
    ),
    (
        "extend a grant's last day",
        ["UPDATE rights_grant SET last_day = '2030-12-31' WHERE id = 1"],
        "rights_grant row id=1 differs from the journal (last_day)",
    ),
    (
        "make a grant exclusive",
        ["UPDATE rights_grant SET exclusivity = 'exclusive' WHERE id = 1"],
        "rights_grant row id=1 differs from the journal (exclusivity)",
    ),
    (
        "forget a termination",
        ["UPDATE rights_grant SET terminated_on = NULL WHERE id = 2"],
        "rights_grant row id=2 differs from the journal (terminated_on",
    ),
    (
        "drop an allowed conflict's reason",
        ["UPDATE rights_grant SET conflict_reason = NULL WHERE id = 3"],
        "rights_grant row id=3 differs from the journal (conflict_reason)",
    ),
    (
        "delete a grant's territory row",
        ["DELETE FROM grant_territory WHERE grant_id = 1"],
        "grant_territory row grant_id=1, code=CN, excluded=",
    ),
    (
        "add a territory to a grant",
        ["INSERT INTO grant_territory (grant_id, code, excluded) VALUES (1, 'HK', :no)"],
        "grant_territory row grant_id=1, code=HK",
    ),
    (
        "stretch a grant's days in the holders lookup",
        ["UPDATE grant_territory SET to_day = '9999-12-31' WHERE grant_id = 1"],
        "grant_territory row grant_id=1, code=CN, excluded=",
    ),
    (
        "hand a grant to someone else in the holders lookup",
        [
            "UPDATE grant_territory SET holding ="
            " replace(holding, 'alibaba-pictures', 'mallory') WHERE grant_id = 1"
        ],
        "grant_territory row grant_id=1, code=CN, excluded=",
    ),
    (
        "insert a fake grant",
        [
            "INSERT INTO rights_grant (id, agreement_ref, title_id, grantor_id, grantee_id, "
            "rights, territory, start, exclusivity, first_day, recorded_seq) "
            "VALUES (99, 'IQ-1', 'real', "
            "'real-producer', 'iqiyi', 'svod', 'CN', '2030-01-01', 'exclusive', '2030-01-01', 6)"
        ],
        "rights_grant row id=99 is in the database but not in the journal",
    ),
    (
        "delete a holdback",
        ["DELETE FROM holdback WHERE grant_id = 2"],
        "holdback row grant_id=2, position=1 is missing from the database",
    ),
    (
        "terminate an agreement behind the ledger's back",
        [
            "UPDATE agreement SET status = 'terminated', terminated_on = '2019-01-01' "
            "WHERE ref = 'IQ-1'"
        ],
        "agreement row ref=IQ-1 differs from the journal (status, terminated_on)",
    ),
    (
        "change an agreement's status",
        ["UPDATE agreement SET status = 'draft' WHERE ref = 'ALI-REAL-2016'"],
        "agreement row ref=ALI-REAL-2016 differs from the journal (status)",
    ),
    (
        "rename a party",
        ["UPDATE party SET name = 'Someone' WHERE id = 'iqiyi'"],
        "party row id=iqiyi differs from the journal (name)",
    ),
    (
        "change an ownership share",
        ["UPDATE ownership SET share = 90 WHERE title_id = 'miss-granny' AND position = 1"],
        "ownership row title_id=miss-granny, position=1 differs from the journal (share)",
    ),
    (
        "move a release event",
        ["UPDATE release_event SET \"on\" = '2017-01-01'"],
        "release_event row recorded_seq=9 differs from the journal (on)",
    ),
    (
        "remove a party from an agreement",
        ["DELETE FROM agreement_party WHERE agreement_ref = 'IQ-1' AND party_id = 'iqiyi'"],
        "agreement_party row agreement_ref=IQ-1, party_id=iqiyi is missing from the database",
    ),
]


@pytest.mark.parametrize(
    ("statements", "named"), [pytest.param(s, n, id=name) for name, s, n in STATE_TAMPERING]
)
def test_verify_names_the_state_row_that_drifted_from_the_journal(
    run: Run, raw: Engine, built: Journal, statements: list[str], named: str
) -> None:
    sql(raw, *statements, no=False)
    report = verify(run, expect=1)
    assert report.count("\n") == 1
    assert "TAMPERED" in report
    assert named in report


def test_verify_names_a_state_row_holding_a_value_of_the_wrong_type(
    run: Run, raw: Engine, built: Journal
) -> None:
    if raw.dialect.name == "postgresql":
        pytest.skip("PostgreSQL refuses a value of the wrong type itself")
    sql(raw, "UPDATE rights_grant SET last_day = 'soon' WHERE id = 1")
    report = verify(run, expect=1)
    assert "rights_grant row id=1 differs from the journal (last_day)" in report
    assert "Traceback" not in report


# -- actors, reasons and history --------------------------------------------------------------


def test_the_journal_records_the_actor_from_the_option_and_from_the_environment(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    result = runner.invoke(
        cli, ["--db", db_url, "--actor", "alice", "party", "add", "a", "--name", "A"]
    )
    assert result.exit_code == 0, result.output
    monkeypatch.setenv("RIGHTS_LEDGER_ACTOR", "bob")
    result = runner.invoke(cli, ["--db", db_url, "party", "add", "b", "--name", "B"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        cli, ["--db", db_url, "--actor", "carol", "party", "add", "c", "--name", "C"]
    )
    assert result.exit_code == 0, result.output
    monkeypatch.delenv("RIGHTS_LEDGER_ACTOR")
    result = runner.invoke(cli, ["--db", db_url, "party", "add", "d", "--name", "D"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["--db", db_url, "history", "--format", "json"])
    actors = [e["actor"] for e in json.loads(result.stdout)]
    assert actors == ["alice", "bob", "carol", getpass.getuser()]


def test_every_entry_carries_a_time_an_actor_and_the_full_payload(built: Journal) -> None:
    grant = next(e for e in built if e["kind"] == "grant.added")
    assert grant["actor"] == "tester"
    assert grant["recorded_at"].endswith("Z")
    assert grant["payload"]["territory"] == "CN"
    assert grant["payload"]["rights"] == ["distribution"]
    assert grant["payload"]["exclusivity"] == "sole"
    stamps = [e["recorded_at"] for e in built]
    assert stamps == sorted(stamps)


def test_entries_whose_payloads_hold_quotes_backslashes_and_control_characters_verify(
    run: Run, built: Journal
) -> None:
    run("party", "add", "odd-name", "--name", 'Studio "Ø\\Δ"\t\x01 미스\u2028')
    assert "intact" in verify(run, expect=0)
    [added] = journal(run, "odd-name")
    assert added["payload"]["name"] == 'Studio "Ø\\Δ"\t\x01 미스\u2028'


def test_a_grant_recorded_despite_a_conflict_keeps_its_reason(run: Run, built: Journal) -> None:
    [added] = journal(run, "G3")
    assert added["reason"] == "board approved the overlap"
    assert added["payload"]["conflicts_allowed"] is True
    assert added["payload"]["conflicts"][0]["grant"] == "G1"
    shown = as_json(run("grant", "show", "G3", "--format", "json"))
    assert shown["conflict_reason"] == "board approved the overlap"
    assert "board approved the overlap" in run("grant", "show", "G3").stdout
    assert "board approved the overlap" in run("history", "G3").stdout


def test_a_terminated_grant_keeps_its_id_and_its_history_shows_both_entries_oldest_first(
    run: Run, built: Journal
) -> None:
    entries = journal(run, "G2")
    assert [e["kind"] for e in entries] == ["grant.added", "grant.terminated"]
    assert entries[0]["seq"] < entries[1]["seq"]
    assert entries[1]["reason"] == "licensee insolvent"
    assert entries[1]["payload"] == {"id": 2, "on": "2020-12-31"}
    shown = as_json(run("grant", "show", "G2", "--format", "json"))
    assert (shown["grant"], shown["terminated_on"], shown["last_day"]) == (
        "G2",
        "2020-12-31",
        "2020-12-31",
    )
    table = run("history", "g2").stdout
    assert table.index("grant.added") < table.index("grant.terminated")


def test_an_amended_grant_keeps_its_id_and_its_history(run: Run, built: Journal) -> None:
    entries = journal(run, "G1")
    assert [e["kind"] for e in entries] == ["grant.added", "agreement.signed", "grant.amended"]
    amended = next(e for e in entries if e["kind"] == "grant.amended")
    assert amended["reason"] == "two-year extension"
    assert amended["payload"]["changes"] == {"end": "2028-12-31"}
    listed = as_json(run("grant", "list", "--format", "json"))
    assert [g["grant"] for g in listed] == ["G1", "G2", "G3"]
    assert listed[0]["end"] == "2028-12-31"


def test_a_grant_terminated_with_its_agreement_shows_the_termination_in_its_history(
    run: Run, built: Journal
) -> None:
    run("agreement", "terminate", "IQ-1", "--on", "2018-06-30", "--reason", "wound up")
    kinds = [e["kind"] for e in journal(run, "G3")]
    assert kinds == ["grant.added", "agreement.terminated"]


def test_the_history_of_an_agreement_includes_its_grants(run: Run, built: Journal) -> None:
    subjects = [e["subject"] for e in journal(run, "IQ-1")]
    assert subjects == ["agreement:IQ-1", "grant:G2", "grant:G3", "grant:G2"]


def test_the_whole_history_is_the_journal_newest_last(run: Run, built: Journal) -> None:
    assert [e["seq"] for e in built] == sorted(e["seq"] for e in built)
    assert built[-1]["kind"] == "grant.terminated"


def test_history_of_something_unknown_is_not_found(run: Run, built: Journal) -> None:
    result = run("history", "nothing-here", expect=1)
    assert result.stderr == "rights-ledger: nothing in the journal about 'nothing-here'\n"


# -- the ledger as it stood ---------------------------------------------------------------


@pytest.fixture
def before_amendment(run: Run, built: Journal) -> str:
    """The moment just before G1 was amended (the entry before the amendment's time)."""
    amended = seq_of(built, "grant.amended", "grant:G1")
    return str(built[amended - 2]["recorded_at"])


def test_grant_show_recorded_as_of_before_an_amendment_shows_the_old_window(
    run: Run, before_amendment: str
) -> None:
    then = as_json(
        run("grant", "show", "G1", "--recorded-as-of", before_amendment, "--format", "json")
    )
    now = as_json(run("grant", "show", "G1", "--format", "json"))
    assert (then["end"], then["last_day"]) == ("2026-12-31", "2026-12-31")
    assert (now["end"], now["last_day"]) == ("2028-12-31", "2028-12-31")


def test_grant_list_recorded_as_of_shows_only_what_was_recorded_then(
    run: Run, before_amendment: str
) -> None:
    then = as_json(run("grant", "list", "--recorded-as-of", before_amendment, "--format", "json"))
    assert [(g["grant"], g["last_day"], g["terminated_on"]) for g in then] == [
        ("G1", "2026-12-31", None),
        ("G2", "2022-12-31", None),
        ("G3", "2018-12-31", None),
    ]
    first = as_json(run("history", "G1", "--format", "json"))[0]["recorded_at"]
    assert [
        g["grant"]
        for g in as_json(run("grant", "list", "--recorded-as-of", first, "--format", "json"))
    ] == ["G1"]
    assert as_json(run("grant", "list", "--recorded-as-of", "2000-01-01", "--format", "json")) == []


def test_holders_recorded_as_of_before_an_amendment_misses_the_extension(
    run: Run, before_amendment: str
) -> None:
    args = (
        "holders",
        "--territory",
        "CN",
        "--title",
        "real",
        "--rights",
        "svod",
        "--on",
        "2027-06-01",
        "--format",
        "json",
    )
    assert [h["grant"] for h in as_json(run(*args))] == ["G1"]
    assert as_json(run(*args, "--recorded-as-of", before_amendment)) == []


def test_expiries_recorded_as_of_before_an_amendment_shows_the_old_end(
    run: Run, before_amendment: str
) -> None:
    args = ("expiries", "--as-of", "2026-12-01", "--within", "60d", "--format", "json")
    assert [e["grant"] for e in as_json(run(*args)) if e["kind"] == "grant"] == []
    then = as_json(run(*args, "--recorded-as-of", before_amendment))
    assert [(e["grant"], e["end"]) for e in then if e["kind"] == "grant"] == [("G1", "2026-12-31")]


def test_check_recorded_as_of_before_an_amendment_is_clear_where_it_now_blocks(
    run: Run, before_amendment: str
) -> None:
    args = (
        "check",
        "--title",
        "real",
        "--grantor",
        "real-producer",
        "--grantee",
        "iqiyi",
        "--rights",
        "svod",
        "--territory",
        "CN",
        "--start",
        "2027-06-01",
        "--end",
        "2027-12-31",
        "--exclusivity",
        "exclusive",
        "--format",
        "json",
    )
    now = as_json(run(*args, expect=1))
    assert [c["grant"] for c in now["conflicts"]] == ["G1"]
    then = as_json(run(*args, "--recorded-as-of", before_amendment))
    assert then["clear"] is True
    assert then["conflicts"] == []


def test_recorded_as_of_rejects_a_malformed_moment(run: Run, built: Journal) -> None:
    run("grant", "list", "--recorded-as-of", "01/02/2026", expect=2)


def test_recorded_as_of_does_not_write_to_the_ledger(run: Run, before_amendment: str) -> None:
    count = len(journal(run))
    run("grant", "list", "--recorded-as-of", before_amendment)
    assert len(journal(run)) == count
    assert run("verify").stdout.startswith(f"intact: {count} journal entries")


# -- moving the journal between databases ----------------------------------------------------


def cli_on(url: str, *args: str, expect: int = 0) -> Result:
    result = CliRunner().invoke(cli, ["--db", url, "--actor", "mover", *args])
    assert result.exit_code == expect, (result.stdout, result.stderr, result.exception)
    return result


def test_a_journal_moved_from_sqlite_to_postgresql_verifies_and_exports_back_identically(
    tmp_path: Path, postgres: PostgresDatabases | None
) -> None:
    if postgres is None:
        pytest.skip("needs RIGHTS_LEDGER_TEST_PG")
    lite = f"sqlite:///{tmp_path / 'source.db'}"

    def run_lite(*args: str, expect: int | None = 0) -> Result:
        return cli_on(lite, *args, expect=0 if expect is None else expect)

    build_ledger(run_lite)
    exported = cli_on(lite, "export", "--format", "journal").stdout
    backup = tmp_path / "backup.jsonl"
    backup.write_text(exported, encoding="utf-8")

    pg = postgres.new()
    count = exported.count("\n")
    assert cli_on(pg, "import", str(backup)).stdout == f"imported {count} journal entries\n"
    assert cli_on(pg, "verify").stdout.startswith("intact:")
    assert cli_on(pg, "export", "--format", "journal").stdout == exported
    assert (
        cli_on(pg, "grant", "list", "--format", "json").stdout
        == cli_on(lite, "grant", "list", "--format", "json").stdout
    )

    # ... and back to a fresh SQLite file, through --output.
    again = tmp_path / "again.jsonl"
    cli_on(pg, "export", "--format", "journal", "--output", str(again))
    copy = f"sqlite:///{tmp_path / 'copy.db'}"
    cli_on(copy, "import", str(again), "--format", "journal")
    assert cli_on(copy, "verify").stdout == cli_on(lite, "verify").stdout
    assert cli_on(copy, "export", "--format", "journal").stdout == exported


def test_a_journal_moves_between_two_ledgers_of_the_same_backend(
    run: Run,
    built: Journal,
    backend: str,
    tmp_path: Path,
    postgres: PostgresDatabases | None,
) -> None:
    exported = run("export", "--format", "journal").stdout
    backup = tmp_path / "backup.jsonl"
    backup.write_text(exported, encoding="utf-8")
    target = f"sqlite:///{tmp_path / 'copy.db'}" if backend == "sqlite" else postgres.new()  # type: ignore[union-attr]
    cli_on(target, "import", str(backup), "--format", "journal")
    assert cli_on(target, "verify").stdout.startswith(f"intact: {len(built)} journal entries")
    assert cli_on(target, "export", "--format", "journal").stdout == exported


def test_a_journal_import_into_a_ledger_that_has_entries_is_refused(
    run: Run, built: Journal, tmp_path: Path
) -> None:
    backup = tmp_path / "backup.jsonl"
    backup.write_text(run("export", "--format", "journal").stdout, encoding="utf-8")
    result = run("import", str(backup), "--format", "journal", expect=1)
    assert "empty ledger" in result.stderr
    assert len(journal(run)) == len(built)


def test_a_tampered_journal_file_is_refused_naming_its_line(
    run: Run, built: Journal, tmp_path: Path
) -> None:
    lines = run("export", "--format", "journal").stdout.splitlines()
    entry = json.loads(lines[5])
    entry["reason"] = "slipped in"
    lines[5] = json.dumps(entry)
    forged = tmp_path / "forged.jsonl"
    forged.write_text("\n".join(lines) + "\n", encoding="utf-8")
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    result = cli_on(empty, "import", str(forged), "--format", "journal", expect=2)
    assert "line 6" in result.stderr
    assert "entry 6" in result.stderr
    assert cli_on(empty, "verify").stdout.startswith("intact: 0 journal entries")


def test_a_journal_file_with_a_forged_but_chained_entry_is_refused_without_a_traceback(
    run: Run, built: Journal, tmp_path: Path
) -> None:
    lines = run("export", "--format", "journal").stdout.splitlines()
    last = json.loads(lines[-1])
    seq = last["seq"] + 1
    extra: dict[str, Any] = {
        "seq": seq,
        "recorded_at": last["recorded_at"],
        "actor": "mallory",
        "kind": "grant.vanished",
        "subject": "grant:G1",
        "reason": None,
        "payload": "{}",
        "prev_hash": last["hash"],
    }
    extra["hash"] = entry_hash(
        seq, extra["recorded_at"], "mallory", "grant.vanished", "grant:G1", None, "{}", last["hash"]
    )
    forged = tmp_path / "forged.jsonl"
    forged.write_text("\n".join([*lines, json.dumps(extra)]) + "\n", encoding="utf-8")
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    result = cli_on(empty, "import", str(forged), "--format", "journal", expect=2)
    assert f"entry {seq}" in result.stderr
    assert cli_on(empty, "verify").stdout.startswith("intact: 0 journal entries")


def test_a_malformed_journal_file_is_bad_input(run: Run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"seq": 1}\n[1, 2]\n', encoding="utf-8")
    result = run("import", str(bad), expect=2)
    assert "line 1" in result.stderr


def test_a_journal_file_that_is_not_utf8_is_bad_input(run: Run, tmp_path: Path) -> None:
    bad = tmp_path / "latin1.jsonl"
    bad.write_bytes('{"seq": 1, "actor": "Jos\u00e9"}\n'.encode("latin-1"))
    result = run("import", str(bad), expect=2)
    assert "latin1.jsonl: not UTF-8 text" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_journal_file_is_read_entry_by_entry_not_held_whole(
    run: Run, built: Journal, tmp_path: Path
) -> None:
    lines = run("export", "--format", "journal").stdout.splitlines()
    backup = tmp_path / "backup.jsonl"
    backup.write_text("\n".join([*lines, "not an entry"]) + "\n", encoding="utf-8")
    entries = journal_entries(backup)
    assert [entry.seq for entry in itertools.islice(entries, 2)] == [1, 2]
    with pytest.raises(BadInput, match=f"line {len(lines) + 1}: not a journal entry"):
        list(entries)


def test_a_dry_run_journal_import_writes_nothing(run: Run, built: Journal, tmp_path: Path) -> None:
    backup = tmp_path / "backup.jsonl"
    backup.write_text(run("export", "--format", "journal").stdout, encoding="utf-8")
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    assert (
        cli_on(empty, "import", str(backup), "--dry-run").stdout
        == f"would import {len(built)} journal entries\n"
    )
    assert cli_on(empty, "history", "--format", "json").stdout.strip() == "[]"


def test_verify_of_a_postgresql_ledger_orders_text_keys_like_sqlite(
    postgres: PostgresDatabases | None, tmp_path: Path
) -> None:
    """Keys compare byte-wise whatever the database's collation, so no false drift."""
    if postgres is None:
        pytest.skip("needs RIGHTS_LEDGER_TEST_PG")
    admin = create_engine(postgres.admin_url, isolation_level="AUTOCOMMIT")
    name = f"rl_test_{postgres.run_id}_icu"
    try:
        with admin.connect() as conn:
            conn.execute(
                text(
                    f'CREATE DATABASE "{name}" TEMPLATE template0 LOCALE_PROVIDER icu '
                    "ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
                )
            )
    except DBAPIError:
        pytest.skip("this PostgreSQL cannot create an ICU-collated database")
    postgres.created.append(name)
    url = postgres.url_for(name)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    for party in ("b-party", "a-party", "ab", "a-b", "a0", "a9"):
        cli_on(url, "party", "add", party, "--name", party.upper())
    for ref in ("b-1", "B-2", "a-1", "A-2", "a-3", "AB", "ab"):
        cli_on(url, "agreement", "add", ref, "--parties", "b-party,a-b")
    listed = cli_on(url, "history", "--format", "json").stdout
    assert len(json.loads(listed)) == 13
    assert cli_on(url, "verify").stdout.startswith("intact:")
