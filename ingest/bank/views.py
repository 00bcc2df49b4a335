"""The four questions a bank statement answers about the inventory, as SQL views for Datasette.

"Recent" is measured against the end of the imported statements, not today:
statements arrive weeks late, and a charge cannot be missing from a period the
bank has not exported yet. Amounts in `recurring_charges` are positive (the
price); `bank_transactions.amount_minor` keeps the bank's sign (debit < 0).
"""

from __future__ import annotations

# Days after which a charge at this billing period is overdue (one period plus a week of slack).
_PERIOD_DAYS = """(case {col} when 'P1W' then 7 when 'P2W' then 14 when 'P1M' then 31 when 'P2M' then 62
  when 'P3M' then 92 when 'P6M' then 183 when 'P1Y' then 366 else 31 end + 7)"""

BANK_VIEWS: dict[str, str] = {
    # Recurring debits no subscription in the mailbox explains: forgotten, paper-billed, or unwanted.
    "bank_unknown_recurring": """
select rc.id as recurring_charge_id, rc.account, rc.merchant, rc.provider, rc.billing_period,
       rc.amount_minor, rc.currency, rc.occurrences, rc.first_on, rc.last_on, rc.next_expected_on,
       rc.status, rc.active, rc.amount_changes
from recurring_charges rc
where rc.subscription_id is null
order by rc.active desc, rc.last_on desc""",
    # Active subscriptions with no debit in the last period of the statements: paid elsewhere, free, or gone.
    # "Last period" ends where the statement of the account that paid it last ends (accounts are exported
    # at different dates); never paid from any imported account: where the latest statement ends.
    "bank_subscriptions_without_charge": f"""
with ends as (select account, max(booked_on) as last_on from bank_transactions group by account),
paid as (
  select s.id as subscription_id, t.account, max(t.booked_on) as last_bank_charge_on
  from subscriptions s
  join bank_transactions t on t.amount_minor < 0
  left join recurring_charges rc on rc.id = t.recurring_charge_id
  where rc.subscription_id = s.id or t.provider = s.provider
  group by s.id
),
overview as (
  select s.id as subscription_id, s.provider, s.service_name, s.plan, s.amount_minor, s.currency,
         s.billing_period, s.platform, s.started_on, p.account, p.last_bank_charge_on,
         coalesce(e.last_on, (select max(booked_on) from bank_transactions)) as statements_end,
         {_PERIOD_DAYS.format(col="s.billing_period")} as overdue_after_days
  from subscriptions s
  left join paid p on p.subscription_id = s.id
  left join ends e on e.account = p.account
  where s.status = 'active'
)
select * from overview
where statements_end is not null
  and coalesce(started_on, '0000') <= date(statements_end, '-' || overdue_after_days || ' days')
  and coalesce(last_bank_charge_on, '0000') < date(statements_end, '-' || overdue_after_days || ' days')
order by provider""",
    # Debits after a confirmed cancellation: money to claim back. 3 days' grace for card bookings of a
    # charge made before it, except from the day the paid time ended: a debit then is the renewal that
    # should not have happened, even when booked the next day (Spotify: cancelled on the 3rd, debited the 5th).
    "bank_charges_after_cancellation": """
select t.id as transaction_id, t.account, t.booked_on, t.label, -t.amount_minor as amount_minor, t.currency,
       s.id as subscription_id, s.provider, s.service_name, s.cancelled_on, s.ends_on,
       cast(julianday(t.booked_on) - julianday(s.cancelled_on) as integer) as days_after_cancellation,
       printf('%s charged %.2f %s on %s (%s), %d days after the cancellation confirmed on %s.',
              coalesce(s.service_name, s.provider), -t.amount_minor / 100.0, t.currency, t.booked_on,
              t.label, julianday(t.booked_on) - julianday(s.cancelled_on), s.cancelled_on) as claim
from subscriptions s
join bank_transactions t on t.amount_minor < 0 and t.booked_on > s.cancelled_on
  and (t.booked_on > date(s.cancelled_on, '+3 days') or t.booked_on >= s.ends_on)
left join recurring_charges rc on rc.id = t.recurring_charge_id
where s.cancelled_on is not null
  and (rc.subscription_id = s.id or (t.recurring_charge_id is null and t.provider = s.provider))
  and not exists (
    select 1 from subscriptions s2
    where s2.provider = s.provider and s2.id != s.id and s2.status != 'cancelled'
      and coalesce(s2.started_on, '9999') <= t.booked_on
  )
order by t.booked_on""",
    # Series whose latest debit is not the price the provider announced by mail.
    "bank_price_mismatches": """
select rc.id as recurring_charge_id, rc.account, rc.merchant, s.id as subscription_id, s.provider,
       s.service_name, s.amount_minor as announced_minor, rc.amount_minor as charged_minor,
       rc.amount_minor - s.amount_minor as difference_minor, rc.currency, rc.last_on, rc.amount_changes
from recurring_charges rc
join subscriptions s on s.id = rc.subscription_id
where s.amount_minor is not null and rc.amount_minor != s.amount_minor
  and coalesce(s.currency, rc.currency) = rc.currency
order by abs(rc.amount_minor - s.amount_minor) desc""",
}
