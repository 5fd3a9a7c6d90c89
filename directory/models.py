"""The directory: Registration Authorities, LPCs, pharmacy owners, pharmacies and people.

People's roles (DESIGN.md, "People and what they may see") are memberships:
- pharmacy staff: `Pharmacy.staff`
- pharmacy owner: `PharmacyOwner.members` (every pharmacy of that owner)
- LPC officer: `LPC.officers`
- CPE IT and directory manager: flags on the user.
They are read in `directory.roles` (the one answer to "which roles has this user"); scoping lives
in the selectors, never here.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from directory.validators import validate_ods_code
from smartcard_route.mail.models import OutboundEmail


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("A user needs an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField("email address", unique=True)
    full_name = models.CharField(max_length=150)
    phone = models.CharField(max_length=30, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField("may use the Django admin", default=False)
    is_cpe_it = models.BooleanField("CPE IT team", default=False)
    is_directory_manager = models.BooleanField("directory manager", default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = ["full_name"]

    class Meta:
        ordering = ("full_name",)

    def __str__(self) -> str:
        return f"{self.full_name} <{self.email}>"

    def get_full_name(self) -> str:
        return self.full_name

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class RegistrationAuthority(models.Model):
    class Kind(models.TextChoices):
        ICB = "icb", "Integrated care board"
        CSU = "csu", "Commissioning support unit"
        TRUST = "trust", "NHS trust"
        OTHER = "other", "Other NHS body"

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField("kind of body", max_length=10, choices=Kind.choices, default=Kind.ICB)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=60, blank=True)
    postal_address = models.TextField(blank=True)
    website = models.URLField("website or service desk portal", blank=True)
    areas_covered = models.TextField(blank=True)
    active = models.BooleanField(default=True)
    last_verified = models.DateField(null=True, blank=True)
    source = models.CharField(max_length=200, blank=True, help_text="Where these details came from.")
    needs_checking = models.BooleanField(
        default=False, help_text="Set when mail to this RA bounced or a correction was reported."
    )
    updated_at = models.DateTimeField(auto_now=True)
    # Every change, who made it and when, before and after (django-simple-history).
    history = HistoricalRecords()

    class Meta:
        ordering = ("name",)
        verbose_name = "Registration Authority"
        verbose_name_plural = "Registration Authorities"

    def __str__(self) -> str:
        return self.name

    @property
    def email_domain(self) -> str:
        return self.email.rpartition("@")[2].lower() if self.email else ""


class LPC(models.Model):
    name = models.CharField(max_length=200, unique=True)
    # NHSBSA's LPC_CODE (directory-sources.md), the key an import updates it by; empty if typed in.
    code = models.CharField("LPC code", max_length=10, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=60, blank=True)
    website = models.URLField(blank=True)
    area = models.TextField(blank=True)
    officers = models.ManyToManyField(User, related_name="lpcs", blank=True)
    active = models.BooleanField(default=True, help_text="Deactivated rather than deleted.")
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ("name",)
        verbose_name = "Local Pharmaceutical Committee"
        constraints = [models.UniqueConstraint(fields=["code"], condition=~Q(code=""), name="lpc_code_unique")]

    def __str__(self) -> str:
        return self.name


class PharmacyOwner(models.Model):
    """The organisation (contractor) that owns one or more pharmacies."""

    name = models.CharField(max_length=200, unique=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=60, blank=True)
    members = models.ManyToManyField(User, related_name="owned_organisations", blank=True)
    active = models.BooleanField(default=True, help_text="Deactivated rather than deleted.")
    history = HistoricalRecords()

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class Pharmacy(models.Model):
    ods_code = models.CharField("ODS code", max_length=5, unique=True, validators=[validate_ods_code])
    name = models.CharField(max_length=200)
    address = models.TextField(blank=True)
    postcode = models.CharField(max_length=8, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=60, blank=True)
    owner = models.ForeignKey(PharmacyOwner, on_delete=models.PROTECT, related_name="pharmacies")
    ra = models.ForeignKey(
        RegistrationAuthority,
        verbose_name="Registration Authority",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="pharmacies",
    )
    lpc = models.ForeignKey(
        LPC, verbose_name="LPC", on_delete=models.SET_NULL, null=True, blank=True, related_name="pharmacies"
    )
    # The Integrated Care Board (NHSBSA's ICB_CODE, ICB_NAME): the RA follows from it through
    # IcbRegistrationAuthority unless `ra_is_exception` (set by hand for this pharmacy).
    icb_code = models.CharField("ICB code", max_length=10, blank=True)
    icb_name = models.CharField("ICB name", max_length=200, blank=True)
    ra_is_exception = models.BooleanField(
        "RA set by hand", default=False, help_text="An import does not change this pharmacy's RA from its ICB."
    )
    staff = models.ManyToManyField(User, related_name="pharmacies", blank=True)
    active = models.BooleanField(default=True, help_text="Deactivated (closed) rather than deleted.")
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ("name",)
        verbose_name_plural = "pharmacies"
        indexes = [models.Index(fields=["postcode"]), models.Index(fields=["name"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.ods_code})"


class IcbRegistrationAuthority(models.Model):
    """Which RA serves the pharmacies of an ICB (directory-sources.md, "The RA for a pharmacy"):
    kept by the directory manager, read by the NHSBSA import to set each pharmacy's RA."""

    icb_code = models.CharField("ICB code", max_length=10, unique=True)
    icb_name = models.CharField("ICB name", max_length=200, blank=True)
    ra = models.ForeignKey(
        RegistrationAuthority,
        verbose_name="Registration Authority",
        on_delete=models.PROTECT,
        related_name="icbs",
    )
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ("icb_code",)
        verbose_name = "ICB's Registration Authority"
        verbose_name_plural = "ICBs' Registration Authorities"

    def __str__(self) -> str:
        return f"{self.icb_code} {self.icb_name} -> {self.ra_id}"


class SubjectAccessExport(models.Model):
    """One subject-access export (DESIGN.md, "Personal data"): who asked, about whom, when. The
    export itself is not stored; this row is its audit."""

    class Format(models.TextChoices):
        JSON = "json", "JSON"
        PAGE = "page", "Readable page"

    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="subject_access_exports")
    subject_email = models.EmailField("email address looked up")
    subject = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    format = models.CharField(max_length=10, choices=Format.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"Subject-access export ({self.format}) by {self.requested_by_id} at {self.created_at:%Y-%m-%d %H:%M}"


class CorrectionReport(models.Model):
    """'Report wrong or missing details' on an RA or LPC page; the directory manager handles it."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"

    ra = models.ForeignKey(
        RegistrationAuthority, on_delete=models.CASCADE, null=True, blank=True, related_name="correction_reports"
    )
    lpc = models.ForeignKey(LPC, on_delete=models.CASCADE, null=True, blank=True, related_name="correction_reports")
    pharmacy = models.ForeignKey(
        Pharmacy, on_delete=models.CASCADE, null=True, blank=True, related_name="correction_reports"
    )
    reporter = models.ForeignKey(User, on_delete=models.PROTECT, related_name="correction_reports")
    details = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="resolved_correction_reports"
    )
    handling_note = models.TextField(blank=True, help_text="What the directory manager did; told to the reporter.")
    # The email to the directory manager, written to the outbox with the report (smartcard_route.mail).
    email = models.OneToOneField(
        OutboundEmail,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="correction_report",
    )

    class Meta:
        ordering = ("-created_at",)
        constraints = [
            models.CheckConstraint(
                name="correction_report_has_one_target",
                condition=(
                    Q(ra__isnull=False, lpc__isnull=True, pharmacy__isnull=True)
                    | Q(ra__isnull=True, lpc__isnull=False, pharmacy__isnull=True)
                    | Q(ra__isnull=True, lpc__isnull=True, pharmacy__isnull=False)
                ),
            )
        ]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"Correction to {self.target}"

    @property
    def target(self) -> RegistrationAuthority | LPC | Pharmacy:
        target = self.ra or self.lpc or self.pharmacy
        assert target is not None
        return target
