"""Forms of the directory pages. Error messages say what to do, in NHS.UK style."""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.core.exceptions import ValidationError

from directory.importer import SPECS, Cleaner
from directory.models import LPC, IcbRegistrationAuthority, Pharmacy, PharmacyOwner, RegistrationAuthority
from directory.validators import clean_text, normalise_org_code


class PharmacySearchForm(forms.Form):
    q = forms.CharField(
        label="ODS code, pharmacy name or postcode",
        required=False,
        max_length=100,
        strip=True,
        error_messages={"max_length": "Search for 100 characters or fewer (this has %(show_value)d)."},
    )


class CorrectionReportForm(forms.Form):
    details = forms.CharField(
        label="What is wrong or missing?",
        help_text="For example, a new phone number or email address, or pharmacies this body no longer serves. "
        "Say where you found the right details, if you can.",
        max_length=2000,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 5}),
        error_messages={
            "required": "Enter what is wrong or missing",
            "max_length": "What is wrong or missing must be 2000 characters or fewer (this has %(show_value)d)",
        },
    )


class SubjectAccessForm(forms.Form):
    """Whose data to export (a subject-access request): the person's email address."""

    email = forms.EmailField(
        label="The person's email address",
        help_text="Their account, roles, the issues they reported or are named in, their events and their mail.",
        max_length=254,
        error_messages={
            "required": "Enter the person's email address",
            "invalid": "Enter an email address in the correct format, like name@example.com",
        },
    )


CHOOSE_FORMAT = "Choose JSON or a readable page"


class SubjectAccessExportForm(SubjectAccessForm):
    format = forms.ChoiceField(
        choices=[("json", "JSON"), ("page", "Readable page")],
        error_messages={"required": CHOOSE_FORMAT, "invalid_choice": CHOOSE_FORMAT},
    )


class CorrectionHandledForm(forms.Form):
    handling_note = forms.CharField(
        label="What did you change? (optional)",
        help_text="The person who reported it is emailed that their report was handled, with this note.",
        required=False,
        max_length=2000,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"max_length": "The note must be 2000 characters or fewer (this has %(show_value)d)"},
    )


# --- the directory manager's forms ---------------------------------------------------------------
# The same rules as the CSV and NHSBSA imports: each text value goes through the import's cleaner for
# its column (directory.importer.SPECS, built on directory.validators), so a value the import refuses
# the form refuses too, with the same message.


def _in_sentence(label: Any) -> str:
    """A field's label inside a sentence: "Kind of body" -> "kind of body"; "ICB code" and
    "Registration Authority" (names) as they are."""
    text = str(label)
    return text[:1].lower() + text[1:] if text[1:] == text[1:].lower() else text


def _required_message(label: Any) -> str:
    return f"Enter the {_in_sentence(label)}"


def _import_cleaners(kind: str, *names: str) -> dict[str, Cleaner]:
    spec = SPECS[kind]
    return {name: spec.column(name).clean for name in names}


class EntryForm(forms.ModelForm):
    """A directory entry's form: text values cleaned as the import cleans them, names unique
    without regard to case (as the import matches them), messages that say what to do."""

    #: field -> the import's cleaner for it
    cleaners: ClassVar[dict[str, Cleaner]] = {}
    #: the field matched without regard to case, and what the entry is called in messages
    unique_name_field: ClassVar[str | None] = "name"
    entry_label: ClassVar[str] = "entry"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in self.cleaners:
            if name not in self.fields:
                continue
            old = self.fields[name]
            # A plain text field: the import's cleaner alone decides (no second, different message).
            self.fields[name] = forms.CharField(
                label=old.label,
                help_text=old.help_text,
                required=old.required,
                widget=old.widget,
                error_messages={"required": _required_message(old.label)},
            )
        for field in self.fields.values():
            if (
                field.required
                and field.error_messages.get("required") == forms.Field.default_error_messages["required"]
            ):
                field.error_messages["required"] = (
                    f"Choose the {_in_sentence(field.label)}"
                    if isinstance(field, forms.ChoiceField | forms.ModelChoiceField)
                    else _required_message(field.label)
                )

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        for name, cleaner in self.cleaners.items():
            value = cleaned.get(name)
            if not isinstance(value, str):
                continue
            if not value.strip():
                cleaned[name] = ""
                continue
            try:
                cleaned[name] = cleaner(value)
            except ValidationError as error:
                self.add_error(name, error)
        field = self.unique_name_field
        if field and cleaned.get(field):
            model = self._meta.model
            assert model is not None
            same = model._default_manager.filter(**{f"{field}__iexact": cleaned[field]}).exclude(pk=self.instance.pk)
            if same.exists():
                self.add_error(field, f"There is already a {self.entry_label} called {cleaned[field]}")
        return cleaned


_ACTIVE_HINT = "Untick to deactivate: an inactive entry stays in the directory's history and on old issues."


class RegistrationAuthorityForm(EntryForm):
    cleaners = _import_cleaners("ras", "name", "email", "phone", "postal_address", "website", "areas_covered", "source")
    entry_label = "Registration Authority"

    class Meta:
        model = RegistrationAuthority
        fields = (
            "name",
            "kind",
            "email",
            "phone",
            "website",
            "postal_address",
            "areas_covered",
            "last_verified",
            "source",
            "needs_checking",
            "active",
        )
        labels = {"active": "Active", "needs_checking": "These details need checking"}
        help_texts = {
            "active": _ACTIVE_HINT,
            "needs_checking": "Shows 'may be out of date' on the RA's page. Untick once the details are right.",
            "last_verified": "For example, 2026-03-31.",
        }
        error_messages = {"last_verified": {"invalid": "Enter the date as 2026-03-31"}}
        field_classes = {"email": forms.CharField, "website": forms.CharField}


class LPCForm(EntryForm):
    cleaners = {**_import_cleaners("lpcs", "name", "email", "phone", "website", "area")}
    entry_label = "LPC"

    class Meta:
        model = LPC
        fields = ("name", "code", "email", "phone", "website", "area", "active")
        field_classes = {"email": forms.CharField, "website": forms.CharField}
        labels = {"active": "Active"}
        help_texts = {"active": _ACTIVE_HINT, "code": "NHSBSA's LPC code: the NHSBSA import finds the LPC by it."}

    def clean_code(self) -> str:
        code: str = self.cleaned_data.get("code", "")
        if not code.strip():
            return ""
        code = normalise_org_code(code, "LPC code")
        if LPC.objects.filter(code=code).exclude(pk=self.instance.pk).exists():
            raise ValidationError(f"Another LPC has the code {code}")
        return code


class PharmacyOwnerForm(EntryForm):
    cleaners = _import_cleaners("owners", "name", "email", "phone")
    entry_label = "pharmacy owner"

    class Meta:
        model = PharmacyOwner
        fields = ("name", "email", "phone", "active")
        labels = {"active": "Active"}
        help_texts = {"active": _ACTIVE_HINT}


class PharmacyForm(EntryForm):
    cleaners = _import_cleaners("pharmacies", "ods_code", "name", "address", "postcode", "email", "phone")
    unique_name_field = None  # pharmacies are known by their ODS code; names repeat
    entry_label = "pharmacy"
    owner_name = forms.CharField(
        label="Owner",
        help_text="The pharmacy owner's name as it is in the directory (add a new owner first).",
        error_messages={"required": "Enter the owner's name"},
    )

    class Meta:
        model = Pharmacy
        fields = (
            "ods_code",
            "name",
            "address",
            "postcode",
            "email",
            "phone",
            "ra",
            "ra_is_exception",
            "lpc",
            "icb_code",
            "icb_name",
            "active",
        )
        labels = {"active": "Open (active)", "ra": "Registration Authority"}
        help_texts = {
            "active": "Untick when the pharmacy closes: it stays in the directory's history and on old issues.",
            "ra": "Usually its ICB's RA, from the ICB -> RA table.",
            "ra_is_exception": "Tick when this pharmacy's RA is not its ICB's: imports then leave the RA alone.",
            "address": "Without the postcode.",
        }

    field_order = ("ods_code", "name", "address", "postcode", "email", "phone", "owner_name")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["postcode"].required = True
        self.fields["postcode"].error_messages["required"] = "Enter the postcode"
        self.fields["ra"].queryset = RegistrationAuthority.objects.order_by("-active", "name")  # type: ignore[attr-defined]
        self.fields["lpc"].queryset = LPC.objects.order_by("-active", "name")  # type: ignore[attr-defined]
        self.fields["ra"].empty_label = self.fields["lpc"].empty_label = "None recorded"  # type: ignore[attr-defined]
        if self.instance.pk and not self.is_bound:
            self.initial["owner_name"] = self.instance.owner.name

    def clean_icb_code(self) -> str:
        code: str = self.cleaned_data.get("icb_code", "")
        return normalise_org_code(code, "ICB code") if code.strip() else ""

    def clean_owner_name(self) -> PharmacyOwner:
        name = " ".join(self.cleaned_data["owner_name"].split())
        owner = PharmacyOwner.objects.filter(name__iexact=name).first()
        if owner is None:
            raise ValidationError(f"There is no pharmacy owner called {name} in the directory: add the owner first")
        return owner

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        code = cleaned.get("ods_code")
        if code and Pharmacy.objects.filter(ods_code=code).exclude(pk=self.instance.pk).exists():
            self.add_error("ods_code", f"There is already a pharmacy with the ODS code {code}")
        owner = cleaned.get("owner_name")
        if isinstance(owner, PharmacyOwner):
            self.instance.owner = owner
        return cleaned


class IcbRegistrationAuthorityForm(EntryForm):
    unique_name_field = None
    entry_label = "ICB"

    class Meta:
        model = IcbRegistrationAuthority
        fields = ("icb_code", "icb_name", "ra")
        labels = {"ra": "Registration Authority"}
        help_texts = {
            "icb_code": "As NHSBSA publishes it (ICB_CODE), like QWO.",
            "ra": "Saving sets this RA on the ICB's pharmacies, except those whose RA is set by hand.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["ra"].queryset = RegistrationAuthority.objects.filter(active=True)  # type: ignore[attr-defined]

    def clean_icb_code(self) -> str:
        code = normalise_org_code(self.cleaned_data.get("icb_code", ""), "ICB code")
        if IcbRegistrationAuthority.objects.filter(icb_code=code).exclude(pk=self.instance.pk).exists():
            raise ValidationError(f"The ICB {code} is in the table already")
        return code

    def clean_icb_name(self) -> str:
        return clean_text(self.cleaned_data.get("icb_name", ""), 200)


class NhsbsaUploadForm(forms.Form):
    file = forms.FileField(
        label="NHSBSA Contractor Details file (CSV)",
        help_text="The monthly CSV as downloaded from NHSBSA's open data portal, up to 20 MB.",
        error_messages={"required": "Choose the CSV file to import", "empty": "The file is empty"},
    )
    dry_run = forms.BooleanField(label="Check only: show what would change, and change nothing", required=False)
    keep_missing = forms.BooleanField(
        label="Keep pharmacies that are not in the file open",
        help_text="For a file of part of England only. Otherwise a pharmacy missing from the file is deactivated.",
        required=False,
    )

    MAX_BYTES = 20 * 1024 * 1024

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > self.MAX_BYTES:
            raise ValidationError("The file must be 20 MB or smaller")
        if not upload.name.lower().endswith(".csv"):
            raise ValidationError("The file must be a CSV file")
        return upload
