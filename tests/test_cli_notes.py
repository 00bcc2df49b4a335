"""`subtrail note` on the user's clock (issue #14): `--at` as people write it, read in the configured
`timezone` (default the system's), stored in UTC, listed back in local time; a date alone is a local day."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest.cli import cli
from ingest.cli.when import local_text, parse_moment
from ingest.store.schema import open_db


def _home(tmp_path: Path, timezone: str | None = "Europe/Paris") -> tuple[Path, Path]:
    config = tmp_path / "subtrail.toml"
    zone = f'timezone = "{timezone}"\n' if timezone else ""
    config.write_text(f'{zone}\n[identity]\naddresses = ["alice@example.org"]\n', encoding="utf-8")
    db = tmp_path / "subtrail.db"
    open_db(db).close()
    return config, db


def _add(config: Path, db: Path, at: str, provider: str = "free-mobile") -> tuple[int, str]:
    result = CliRunner().invoke(
        cli,
        ["note", "add", "--provider", provider, "--at", at, "--text", "Appel", "--config", str(config),
         "--db", str(db)],
    )  # fmt: skip
    return result.exit_code, result.output


def _stored(db: Path) -> list[str]:
    return [row[0] for row in open_db(db).execute("select at from manual_notes order by id")]


@pytest.mark.parametrize(
    "typed",
    [
        "2026-03-03 10:02",
        "2026-03-03T10:02",
        "2026-03-03T10:02:00",
        "03/03/2026 10h02",
        "3/3/2026 10:02",
        "03.03.2026 10h02",
        "3 mars 2026 10:02",
        "3 mars 2026 à 10h02",
        "mardi 3 mars 2026 10h02",
        "3 March 2026 10:02",
        "March 3, 2026 10:02",
        "3rd March 2026 10:02 am",
        "2026-03-03T10:02:00+01:00",
        "2026-03-03T09:02:00Z",
        "2026-03-03 10:02 +01:00",
    ],
)
def test_note_add_at_reads_the_ways_people_write_a_time(tmp_path: Path, typed: str) -> None:
    config, db = _home(tmp_path)
    code, output = _add(config, db, typed)
    assert code == 0, output
    assert _stored(db) == ["2026-03-03T09:02:00+00:00"]  # 10:02 in Paris, kept in UTC


def test_note_at_without_offset_is_in_the_configured_timezone(tmp_path: Path) -> None:
    config, db = _home(tmp_path, "America/New_York")
    assert _add(config, db, "3 March 2026 10:02")[0] == 0
    assert _stored(db) == ["2026-03-03T15:02:00+00:00"]


def test_note_at_default_timezone_is_the_systems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    config, db = _home(tmp_path, timezone=None)
    assert _add(config, db, "2026-03-03 10:02")[0] == 0
    assert _stored(db) == ["2026-03-03T01:02:00+00:00"]


def test_note_at_date_only_is_a_local_date(tmp_path: Path) -> None:
    config, db = _home(tmp_path)
    assert _add(config, db, "2026-12-03")[0] == 0
    assert _add(config, db, "3 décembre 2026")[0] == 0
    listed = CliRunner().invoke(cli, ["note", "list", "--config", str(config), "--db", str(db)]).output
    assert listed.count("2026-12-03 ") == 2 and "2026-12-02" not in listed and "23:00" not in listed


def test_note_list_shows_local_time(tmp_path: Path) -> None:
    config, db = _home(tmp_path)
    assert _add(config, db, "2026-12-03 14:05")[0] == 0
    assert _stored(db) == ["2026-12-03T13:05:00+00:00"]
    listed = CliRunner().invoke(cli, ["note", "list", "--config", str(config), "--db", str(db)]).output
    assert "2026-12-03 14:05" in listed and "13:05" not in listed and "+00:00" not in listed


@pytest.mark.parametrize(
    "typed", ["yesterday", "32/03/2026 10:02", "3 mars 2026 25:00", "3 brumaire 2026", "10:02"]
)
def test_note_at_nonsense_is_refused_with_the_accepted_forms(tmp_path: Path, typed: str) -> None:
    config, db = _home(tmp_path)
    code, output = _add(config, db, typed)
    assert code == 2
    assert output.count("\n") == 1 and "--at" in output and "03/03/2026 10h02" in output
    assert _stored(db) == []


def test_note_due_takes_a_date_as_people_write_it(tmp_path: Path) -> None:
    config, db = _home(tmp_path)
    result = CliRunner().invoke(
        cli,
        ["note", "add", "--provider", "free-mobile", "--at", "3 mars 2026 10h02", "--text", "Appel",
         "--promise", "remboursement", "--due", "10/03/2026", "--config", str(config), "--db", str(db)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert open_db(db).execute("select due_on from manual_notes").fetchone() == ("2026-03-10",)


def test_a_local_time_round_trips() -> None:
    moment = parse_moment("31/10/2026 23h30", "Europe/Paris")  # the last day of summer time
    assert moment.iso == "2026-10-31T22:30:00+00:00" and not moment.date_only
    assert local_text(moment.iso, "Europe/Paris") == "2026-10-31 23:30"


# --- unknown provider slugs: exit 2 with "did you mean" (issue #14) ----------------------------------


def _run(config: Path, db: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [*args, "--config", str(config), "--db", str(db)])
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("command", "typo", "meant"),
    [
        (["note", "add", "--at", "2026-03-03 10:02", "--text", "Appel", "--provider"], "fre", "free"),
        (["note", "add", "--at", "2026-03-03 10:02", "--text", "Appel", "--provider"], "netflx", "netflix"),
        (["note", "list", "--provider"], "netflx", "netflix"),
        (["export", "evidence", "--provider"], "netflx", "netflix"),
        (["dossier"], "netflx", "netflix"),
        (["draft", "cancel"], "netflx", "netflix"),
        (["draft", "claim"], "spotfy", "spotify"),
    ],
)
def test_unknown_provider_slug_exits_2_with_did_you_mean(
    tmp_path: Path, command: list[str], typo: str, meant: str
) -> None:
    config, db = _home(tmp_path)
    code, output = _run(config, db, *command, typo)
    assert code == 2, output
    assert output.count("\n") == 1 and f"`{typo}`" in output and f"did you mean `{meant}`?" in output
    assert _stored(db) == []


def test_a_provider_only_the_database_knows_is_suggested(tmp_path: Path) -> None:
    config, db = _home(tmp_path)
    code, output = _run(config, db, "note", "add", "--at", "2026-03-03", "--text", "Devis", "--provider",
                        "garage-dupont", "--new-provider")  # fmt: skip
    assert code == 0, output
    code, output = _run(config, db, "export", "evidence", "--provider", "garage-dupond")
    assert code == 2 and "did you mean `garage-dupont`?" in output
    code, output = _run(config, db, "export", "evidence", "--provider", "garage-dupont")
    assert code == 0, output


def test_note_for_a_new_provider_needs_the_explicit_flag(tmp_path: Path) -> None:
    config, db = _home(tmp_path)
    args = ["note", "add", "--at", "2026-03-03 10:02", "--text", "Appel", "--provider", "plombier-martin"]
    code, output = _run(config, db, *args)
    assert code == 2 and "--new-provider" in output and _stored(db) == []
    code, output = _run(config, db, *args, "--new-provider")
    assert code == 0, output
    assert _stored(db) == ["2026-03-03T09:02:00+00:00"]
    code, output = _run(config, db, *args)  # known now: in the database
    assert code == 0, output


ADD_SUBSCRIPTION = ["add", "subscription", "--amount", "9,99 €", "--period", "P1M", "--provider"]


def _subscriptions(db: Path) -> list[str]:
    return [row[0] for row in open_db(db).execute("select provider from subscriptions order by id")]


def test_add_subscription_refuses_a_typo_with_did_you_mean(tmp_path: Path) -> None:
    config, db = _home(tmp_path)
    code, output = _run(config, db, *ADD_SUBSCRIPTION, "nteflix")
    assert code == 2, output
    assert output.count("\n") == 1 and "`nteflix`" in output and "did you mean `netflix`?" in output
    assert "--new-provider" in output and "the mail never shows" in output
    assert _subscriptions(db) == []
    code, output = _run(config, db, *ADD_SUBSCRIPTION, "netflix")
    assert code == 0, output
    assert _subscriptions(db) == ["netflix"]


def test_add_subscription_for_a_provider_the_mail_never_shows_needs_new_provider(tmp_path: Path) -> None:
    config, db = _home(tmp_path)
    code, output = _run(config, db, *ADD_SUBSCRIPTION, "piscine-municipale")
    assert code == 2 and "--new-provider" in output and _subscriptions(db) == []
    code, output = _run(config, db, *ADD_SUBSCRIPTION, "piscine-municipale", "--new-provider")
    assert code == 0, output
    assert _subscriptions(db) == ["piscine-municipale"]


def test_a_known_provider_without_mail_takes_a_note(tmp_path: Path) -> None:
    config, db = _home(tmp_path)
    code, output = _run(config, db, "note", "add", "--at", "2026-03-03 10:02", "--text", "Appel",
                        "--provider", "free-mobile")  # fmt: skip
    assert code == 0, output


@pytest.mark.parametrize("typed", ["2026-11-27", "27/11/2026", "27 novembre 2026", "November 27, 2026"])
def test_today_option_takes_a_date_as_people_write_it(tmp_path: Path, typed: str) -> None:
    config, db = _home(tmp_path)
    code, output = _run(config, db, "status", "--today", typed)
    assert code == 0, output


def test_today_option_refuses_a_time(tmp_path: Path) -> None:
    config, db = _home(tmp_path)
    code, output = _run(config, db, "status", "--today", "27/11/2026 10:00")
    assert code == 2 and "--today" in output and output.count("\n") == 1
