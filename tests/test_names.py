"""One name per subscription in every output: `status`, the web pages' data, the calendar, the reminders,
the dossier and the drafts all say "ChatGPT", never "OpenAI (ChatGPT Plus)" in one and "ChatGPT" in another."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from icalendar import Calendar
from sqlite_utils import Database

from ingest.config import Notify
from ingest.outputs import queries
from ingest.outputs.calendar import build_calendar
from ingest.outputs.dossier import build_dossier, render_markdown
from ingest.outputs.fx import shipped_rates
from ingest.outputs.humanize import name_with_plan, subscription_name
from ingest.outputs.notify import due_reminders
from ingest.outputs.status import build_status, render_status
from ingest.store.schema import open_db

TODAY = dt.date(2026, 11, 27)


@pytest.fixture
def sample(sample_db_path: Path) -> Database:
    db = open_db(sample_db_path)
    yield db
    db.close()


def _names(db: Database) -> dict[int, str]:
    """Every subscription's name as the overview and inventory pages get it."""
    return {s["id"]: s["name"] for s in queries.subscriptions(db.conn, "EUR", shipped_rates())}


def test_the_sample_names_chatgpt_the_same_everywhere(sample: Database) -> None:
    names = _names(sample)
    chatgpt = sample.execute("select id from subscriptions where provider = 'openai'").fetchone()[0]
    assert names[chatgpt] == "ChatGPT"
    feed = Calendar.from_ical(build_calendar(sample, now=dt.datetime(2026, 11, 27, tzinfo=dt.UTC)))
    summaries = [str(e["SUMMARY"]) for e in feed.walk("VEVENT") if f"-{chatgpt}" in str(e["UID"])]
    assert summaries and all("OpenAI" not in s and "ChatGPT" in s for s in summaries)


def test_status_web_calendar_and_reminders_give_each_subscription_one_name(sample: Database) -> None:
    names = _names(sample)
    status = build_status(sample, today=TODAY, rates=shipped_rates())
    assert status.subscriptions
    assert all(s["name"] == names[s["id"]] for s in status.subscriptions)
    text = render_status(status)
    assert all(s["name"][:15] in text for s in status.subscriptions)  # cut to the column, not renamed
    feed = Calendar.from_ical(build_calendar(sample, now=dt.datetime(2026, 11, 27, tzinfo=dt.UTC)))
    seen = 0
    for event in feed.walk("VEVENT"):
        uid, summary = str(event["UID"]), str(event["SUMMARY"])
        for prefix, label in (("renewal-", "Renewal: "), ("trial-end-", "Trial ends: "),
                              ("service-ends-", "Service ends: ")):  # fmt: skip
            if uid.startswith(prefix):
                sub_id = int(uid.removeprefix(prefix).split("-")[0].split("@")[0])
                said = summary.removeprefix(label).split(" — ")[0]
                assert said == names[sub_id], summary
                seen += 1
    assert seen >= len(status.subscriptions) // 2
    now = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
    reminders = [r for r in due_reminders(sample, Notify(days_before=[400]), now) if r.kind == "renewal"]
    assert reminders
    for reminder in reminders:
        sub_id = int(reminder.key.split(":")[1])
        assert reminder.title.startswith(f"{names[sub_id]} renews "), reminder.title


def test_the_dossier_heading_is_the_name_then_the_plan_said_once(sample: Database) -> None:
    text = render_markdown(build_dossier(sample, "openai", today=TODAY))
    assert "### ChatGPT Plus\n" in text and "ChatGPT (ChatGPT Plus)" not in text
    text = render_markdown(build_dossier(sample, "netflix", today=TODAY))
    assert "### Netflix — Standard\n" in text


@pytest.mark.parametrize(
    ("service", "provider", "slug", "name"),
    [
        ("ChatGPT", "OpenAI (ChatGPT Plus)", "openai", "ChatGPT"),
        ("Électricité EDF", "EDF", "edf", "Électricité EDF"),
        (None, "Le Monde", "le-monde", "Le Monde"),
        ("", None, "garage-dupont", "garage-dupont"),
    ],
)
def test_the_name_is_the_service_else_the_provider_else_the_slug(
    service: str | None, provider: str | None, slug: str, name: str
) -> None:
    assert subscription_name(service, provider, slug) == name


@pytest.mark.parametrize(
    ("name", "plan", "shown"),
    [
        ("ChatGPT", "ChatGPT Plus", "ChatGPT Plus"),
        ("Deezer", "Deezer Premium", "Deezer Premium"),
        ("Canal+", "CANAL+ CINÉ SÉRIES", "CANAL+ CINÉ SÉRIES"),
        ("Netflix", "Standard", "Netflix — Standard"),
        ("Amazon Prime", "Prime", "Amazon Prime"),
        ("Headspace", None, "Headspace"),
    ],
)
def test_the_plan_follows_the_name_without_saying_a_word_twice(
    name: str, plan: str | None, shown: str
) -> None:
    assert name_with_plan(name, plan) == shown
