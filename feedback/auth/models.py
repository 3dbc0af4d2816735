"""Staff users, API tokens and the audit log of admin changes."""

from piccolo.columns import (
    JSONB,
    Boolean,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from feedback.accounts.models import CSM
from feedback.kernel.principal import Role


class StaffUser(Table, tablename="staff_user"):
    id: Serial  # the primary key Piccolo adds, declared for type checkers
    email = Varchar(length=320, unique=True, index=True)
    name = Varchar(length=200, default="")
    role = Varchar(length=20, choices=Role)
    password_hash = Text()
    # a staff user with role csm sees the accounts of this CSM
    csm = ForeignKey(references=CSM, null=True, on_delete=OnDelete.set_null)
    active = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())
    last_login_at = Timestamptz(null=True, default=None)
    # a session cookie names the version it was made under; signing out, deactivation or a
    # password reset moves the version on, which ends every older session
    session_version = Integer(default=0)


class ApiToken(Table, tablename="api_token"):
    id: Serial
    name = Varchar(length=200, default="")
    # SHA-256 of the token: tokens are 256-bit random, so a fast hash is enough at rest
    token_hash = Varchar(length=64, unique=True, index=True)
    prefix = Varchar(length=16)
    role = Varchar(length=20, choices=Role)
    csm = ForeignKey(references=CSM, null=True, on_delete=OnDelete.cascade)
    created_by = Varchar(length=320, default="")
    # the staff user the token acts for, if any: deactivating them revokes it
    owner = ForeignKey(references=StaffUser, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
    last_used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)


class AuditEntry(Table, tablename="audit_entry"):
    id: Serial
    at = Timestamptz(default=TimestamptzNow(), index=True)
    actor = Varchar(length=320)
    source = Varchar(length=20)  # api, web or cli
    action = Varchar(length=100)
    target = Varchar(length=300, default="")
    detail = JSONB(default={})
