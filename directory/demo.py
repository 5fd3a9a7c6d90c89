"""Fictional demo data for the directory, and a demo account for every role.

The RAs, LPCs, owners and pharmacies are the sample CSV files in directory/fixtures/demo/, loaded
through the same import as real data (so the samples in docs/directory-import.md stay valid). The
people are made here. Every name, address, email and phone number is invented: phone numbers come
from Ofcom's ranges reserved for drama, email domains end in .example.

Running it again changes nothing: the import upserts, and accounts are only written when they
differ from what the environment asks for. A new account gets DEMO_PASSWORD (or the default); an
existing one keeps its password unless DEMO_PASSWORD is set, in which case it is reset to it.

Environment variables read (all optional):
  DEMO_PASSWORD                 password of every demo account
  DEMO_STAFF_EMAIL              pharmacy staff
  DEMO_OWNER_EMAIL              pharmacy owner
  DEMO_LPC_OFFICER_EMAIL        LPC officer
  DEMO_CPE_IT_EMAIL             CPE IT
  DEMO_DIRECTORY_MANAGER_EMAIL  directory manager (not a superuser: edits on the directory's own pages)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth.hashers import check_password
from django.db import transaction

from directory.importer import KINDS, directory_import
from directory.models import LPC, Pharmacy, PharmacyOwner, User

DEMO_DIR = Path(__file__).resolve().parent / "fixtures" / "demo"
DEFAULT_PASSWORD = "Smartcard-demo-2026"  # noqa: S105 - a published demo password, printed on start


@dataclass(frozen=True)
class DemoRole:
    key: str
    label: str
    full_name: str
    email_variable: str
    default_email: str

    @property
    def email(self) -> str:
        return (os.environ.get(self.email_variable) or self.default_email).strip().lower()


ROLES: tuple[DemoRole, ...] = (
    DemoRole("staff", "Pharmacy staff", "Priya Shah", "DEMO_STAFF_EMAIL", "pharmacy.staff@example.com"),
    DemoRole("owner", "Pharmacy owner", "Tom Atkinson", "DEMO_OWNER_EMAIL", "pharmacy.owner@example.com"),
    DemoRole("lpc_officer", "LPC officer", "Helen Moss", "DEMO_LPC_OFFICER_EMAIL", "lpc.officer@example.com"),
    DemoRole("cpe_it", "CPE IT", "Sam Okafor", "DEMO_CPE_IT_EMAIL", "cpe.it@example.com"),
    DemoRole(
        "directory_manager",
        "Directory manager",
        "Ruth Ellison",
        "DEMO_DIRECTORY_MANAGER_EMAIL",
        "directory.manager@example.com",
    ),
)

# Whom the staff, owner and LPC officer accounts belong to in the demo directory.
STAFF_PHARMACIES = ("FDW11", "FDW12")
OWNER_ORGANISATION = "Dalesway Pharmacy Ltd"
OFFICER_LPC = "Community Pharmacy North Riding"


def demo_password() -> str:
    return os.environ.get("DEMO_PASSWORD") or DEFAULT_PASSWORD


@dataclass(frozen=True)
class DemoAccounts:
    """The demo users, one per role, as seeded; `issues.demo.seed_issues` builds on them."""

    password: str
    staff: User
    owner: User
    lpc_officer: User
    cpe_it: User
    directory_manager: User


def demo_account_rows() -> list[tuple[str, str]]:
    """(role, email) of every demo account, from the environment alone (reads no database)."""
    return [(role.label, role.email) for role in ROLES]


def _ensure_user(role: DemoRole, password: str) -> User:
    flags = {
        "full_name": role.full_name,
        "is_active": True,
        "is_cpe_it": role.key == "cpe_it",
        "is_directory_manager": role.key == "directory_manager",
        # Nobody of the demo is a superuser: the directory manager works on the directory's pages, and a
        # superuser could read every issue (issue 11). `manage.py createsuperuser` makes an admin.
        "is_staff": False,
        "is_superuser": False,
    }
    user = User.objects.filter(email__iexact=role.email).first()
    if user is None:
        return User.objects.create_user(role.email, password, **flags)
    changed = [name for name, value in flags.items() if getattr(user, name) != value]
    for name in changed:
        setattr(user, name, flags[name])
    # An existing account keeps its password unless DEMO_PASSWORD asks for one: checking a password
    # costs a third of a second per account, which every `make run` would pay.
    if os.environ.get("DEMO_PASSWORD") and not check_password(password, user.password):
        user.set_password(password)
        changed.append("password")
    if changed:
        user.save(update_fields=changed)
    return user


@transaction.atomic
def seed_directory() -> DemoAccounts:
    """Load the demo directory and the demo accounts, idempotently; return the accounts."""
    directory_import(files={kind: DEMO_DIR / f"{kind}.csv" for kind in KINDS})
    password = demo_password()
    users = {role.key: _ensure_user(role, password) for role in ROLES}
    # Memberships: .add() skips rows that exist already.
    users["staff"].pharmacies.add(*Pharmacy.objects.filter(ods_code__in=STAFF_PHARMACIES))
    PharmacyOwner.objects.get(name=OWNER_ORGANISATION).members.add(users["owner"])
    LPC.objects.get(name=OFFICER_LPC).officers.add(users["lpc_officer"])
    return DemoAccounts(password=password, **users)
