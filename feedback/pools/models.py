"""Pools of specialists: accounts without a dedicated CSM are served by a pool, whose CTAs
any member may claim (compare-and-set) and which are assigned by the pool's rule when nobody
claims them within the pool's SLA, then escalated to the pool's manager."""

from enum import StrEnum

from piccolo.columns import (
    JSONB,
    Boolean,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from feedback.accounts.models import CSM


class AssignmentRule(StrEnum):
    round_robin = "round_robin"  # members in turn
    fewest_open = "fewest_open"  # the member with the fewest open CTAs
    least_arr = "least_arr"  # the member handling the least ARR in open CTAs


class Pool(Table, tablename="pool"):
    id: Serial  # the primary key Piccolo adds, declared for type checkers
    name = Varchar(length=100, unique=True)
    slack_channel = Varchar(length=80, null=True, default=None)
    rule = Varchar(length=20, default=AssignmentRule.round_robin.value, choices=AssignmentRule)
    # which accounts without a dedicated CSM the pool serves, e.g. {"plan": ["free"],
    # "company_size": ["1-10", "11-50"]}; {} is every such account
    audience = JSONB(default={})
    manager = ForeignKey(references=CSM, null=True, on_delete=OnDelete.set_null)
    meeting_url = Varchar(length=500, null=True, default=None)
    # working minutes a CTA may stay unclaimed before the rule assigns it, then untouched
    # before it escalates to the manager
    claim_sla_minutes = Integer(default=240)
    escalate_sla_minutes = Integer(default=480)
    # the working hours the SLAs count in: Monday to Friday, from the start hour to the end
    # hour in the pool's IANA time zone
    timezone = Varchar(length=64, default="UTC")
    workday_start_hour = Integer(default=9)
    workday_end_hour = Integer(default=17)
    # round robin's cursor: the position (modulo the members) of the member next in turn
    next_member = Integer(default=0)
    active = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class PoolMember(Table, tablename="pool_member"):
    """A specialist in a pool; one row per pool and CSM (unique index pool_member_once)."""

    id: Serial  # the primary key Piccolo adds, declared for type checkers
    pool = ForeignKey(references=Pool, null=False, on_delete=OnDelete.cascade, index=True)
    csm = ForeignKey(references=CSM, null=False, on_delete=OnDelete.cascade, index=True)
    created_at = Timestamptz(default=TimestamptzNow())
