"""Import the directory from CSV files: pharmacy owners, RAs, LPCs and pharmacies.

The columns of each file are documented in docs/directory-import.md. The import is all or
nothing: every row of every file is checked first (formats, required values, duplicates, and
references from pharmacies to owners, RAs and LPCs that must exist in the database or in the same
import); if any row is bad, nothing is written and every problem is reported with its file and
line. A good import runs in one transaction with bulk writes, upserting by natural key (ODS code
for pharmacies; the name for owners, RAs and LPCs, compared without regard to case), and counts
what it created, updated and left unchanged, so importing the same files twice changes nothing.

Rows are never deleted by an import; columns that a file leaves out are left as they are.
"""

from __future__ import annotations

import csv
import datetime
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from directory.models import LPC, Pharmacy, PharmacyOwner, RegistrationAuthority
from directory.validators import (
    clean_multiline,
    clean_text,
    normalise_email,
    normalise_ods_code,
    normalise_phone,
    normalise_postcode,
    normalise_url,
)

Cleaner = Callable[[str], Any]
Progress = Callable[[str], None]

#: The kinds of file, in the order they are written (pharmacies refer to the other three).
KINDS = ("owners", "ras", "lpcs", "pharmacies")
BATCH_SIZE = 1000


# --- cleaning single values -------------------------------------------------------------------


def _text(max_length: int) -> Cleaner:
    return lambda value: clean_text(value, max_length)


_multiline = clean_multiline
_email = normalise_email
_phone = normalise_phone
_url = normalise_url


def _ra_kind(value: str) -> str:
    wanted = value.strip().casefold()
    for code, label in RegistrationAuthority.Kind.choices:
        if wanted in (code.casefold(), str(label).casefold()):
            return code
    codes = ", ".join(code for code, _ in RegistrationAuthority.Kind.choices)
    raise ValidationError(f"Use one of: {codes}.")


_TRUE = {"yes", "y", "true", "1"}
_FALSE = {"no", "n", "false", "0"}


def _yes_no(value: str) -> bool:
    wanted = value.strip().casefold()
    if wanted in _TRUE:
        return True
    if wanted in _FALSE:
        return False
    raise ValidationError("Use yes or no.")


def _date(value: str) -> datetime.date:
    text = value.strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValidationError("Enter a date like 2026-03-31 (or 31/03/2026).")


def _name_key(value: str) -> str:
    return " ".join(value.split()).casefold()


# --- what each file holds -----------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    clean: Cleaner
    required: bool = False
    blank: Any = ""
    #: The kind of row this column names (owners, ras or lpcs), for references from pharmacies.
    refers_to: str | None = None

    @property
    def field(self) -> str:
        """The model field it fills: a reference column `owner` fills the foreign key `owner_id`."""
        return f"{self.name}_id" if self.refers_to else self.name


@dataclass(frozen=True)
class Spec:
    kind: str
    label: str
    model: type[models.Model]
    key_column: str
    columns: tuple[Column, ...]

    def column(self, name: str) -> Column:
        return next(column for column in self.columns if column.name == name)

    def key_of(self, value: Any) -> str:
        return str(value) if self.key_column == "ods_code" else _name_key(str(value))

    def key_of_object(self, obj: models.Model) -> str:
        return self.key_of(getattr(obj, self.key_column))


def _max(model: type[models.Model], name: str) -> int:
    model_field = model._meta.get_field(name)
    assert isinstance(model_field, models.CharField) and model_field.max_length is not None
    return model_field.max_length


SPECS: dict[str, Spec] = {
    "owners": Spec(
        kind="owners",
        label="pharmacy owner",
        model=PharmacyOwner,
        key_column="name",
        columns=(
            Column("name", _text(_max(PharmacyOwner, "name")), required=True),
            Column("email", _email),
            Column("phone", _phone),
        ),
    ),
    "ras": Spec(
        kind="ras",
        label="Registration Authority",
        model=RegistrationAuthority,
        key_column="name",
        columns=(
            Column("name", _text(_max(RegistrationAuthority, "name")), required=True),
            Column("kind", _ra_kind, blank=RegistrationAuthority.Kind.ICB),
            Column("email", _email),
            Column("phone", _phone),
            Column("postal_address", _multiline),
            Column("website", _url),
            Column("areas_covered", _multiline),
            Column("active", _yes_no, blank=True),
            Column("last_verified", _date, blank=None),
            Column("source", _text(_max(RegistrationAuthority, "source"))),
        ),
    ),
    "lpcs": Spec(
        kind="lpcs",
        label="LPC",
        model=LPC,
        key_column="name",
        columns=(
            Column("name", _text(_max(LPC, "name")), required=True),
            Column("email", _email),
            Column("phone", _phone),
            Column("website", _url),
            Column("area", _multiline),
        ),
    ),
    "pharmacies": Spec(
        kind="pharmacies",
        label="pharmacy",
        model=Pharmacy,
        key_column="ods_code",
        columns=(
            Column("ods_code", normalise_ods_code, required=True),
            Column("name", _text(_max(Pharmacy, "name")), required=True),
            Column("address", _multiline),
            Column("postcode", normalise_postcode, required=True),
            Column("email", _email),
            Column("phone", _phone),
            Column("owner", _text(_max(PharmacyOwner, "name")), required=True, refers_to="owners"),
            Column("ra", _text(_max(RegistrationAuthority, "name")), blank=None, refers_to="ras"),
            Column("lpc", _text(_max(LPC, "name")), blank=None, refers_to="lpcs"),
        ),
    ),
}


# --- results and problems -----------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file} line {self.line}" if self.line else self.file
        return f"{where}: {self.message}"


class DirectoryImportRejected(Exception):
    """The files had problems; nothing was imported."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        super().__init__(f"{len(errors)} problem(s); nothing was imported")


@dataclass
class KindCounts:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class ImportResult:
    counts: dict[str, KindCounts] = field(default_factory=dict)
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        return any(c.created or c.updated for c in self.counts.values())


@dataclass
class _Row:
    line: int
    key: str | None  # None when the natural key itself is missing or malformed
    values: dict[str, Any]  # column name -> clean value (references still hold names)


@dataclass
class _File:
    spec: Spec
    display_name: str
    columns: list[Column] = field(default_factory=list)
    rows: list[_Row] = field(default_factory=list)


# --- reading and checking -----------------------------------------------------------------------


def _normalise_header(name: str | None) -> str:
    return "_".join((name or "").strip().lower().split())


def _records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number where the record starts, values) for each CSV record after the header."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        # strict: a quote that is never closed is an error, not one garbage row holding the rest
        # of the file.
        reader = csv.reader(handle, strict=True)
        next_line = 1
        try:
            for values in reader:
                yield next_line, values
                next_line = reader.line_num + 1
        except csv.Error as exc:
            raise csv.Error(f'line {next_line}: {exc}; is a quote (") left open?') from exc


def read_records(path: Path, display_name: str, errors: list[RowError]) -> list[tuple[int, list[str]]] | None:
    """The file's records (header first) with their line numbers, or None with the problem reported."""

    def problem(message: str) -> None:
        errors.append(RowError(display_name, None, message))

    try:
        records = list(_records(path))
    except FileNotFoundError:
        problem("file not found")
        return None
    except UnicodeDecodeError:
        problem("is not UTF-8 text: save it from your spreadsheet as 'CSV UTF-8'")
        return None
    except csv.Error as exc:
        problem(f"is not a readable CSV file ({exc})")
        return None
    if not records:
        problem("is empty: the first line must name the columns")
        return None
    return records


def _read_file(spec: Spec, path: Path, errors: list[RowError], progress: Progress, progress_every: int) -> _File | None:
    loaded = _File(spec=spec, display_name=path.name)

    def problem(line: int | None, message: str) -> None:
        errors.append(RowError(loaded.display_name, line, message))

    records = read_records(path, loaded.display_name, errors)
    if records is None:
        return None

    _, header = records[0]
    names = [_normalise_header(name) for name in header]
    known = {column.name for column in spec.columns}
    unknown = [name for name in names if name not in known]
    repeated = sorted({name for name in names if names.count(name) > 1})
    missing = [column.name for column in spec.columns if column.required and column.name not in names]
    if unknown:
        problem(1, f"unknown column(s) {', '.join(unknown) or '(blank)'}; the columns are {', '.join(sorted(known))}")
    if repeated:
        problem(1, f"column(s) named twice: {', '.join(repeated)}")
    if missing:
        problem(1, f"missing required column(s): {', '.join(missing)}")
    if unknown or repeated or missing:
        return None
    loaded.columns = [spec.column(name) for name in names]

    first_line_of_key: dict[str, int] = {}
    data = records[1:]
    for count, (line, values) in enumerate(data, start=1):
        if count % progress_every == 0:
            progress(f"{loaded.display_name}: checked {count} of {len(data)} rows")
        if not any(value.strip() for value in values):
            continue  # blank lines at the end of spreadsheet exports
        if len(values) > len(names):
            problem(line, f"has {len(values)} values but the header names {len(names)} columns")
            continue
        row = _clean_row(loaded, line, values, problem)
        loaded.rows.append(row)
        if row.key is None:
            continue
        if row.key in first_line_of_key:
            shown = row.values[spec.key_column]
            problem(line, f"{spec.key_column} {shown!r} is also on line {first_line_of_key[row.key]}")
            continue
        first_line_of_key[row.key] = line
    return loaded


def _is_control(character: str) -> bool:
    """NUL (which PostgreSQL cannot store) and the other C0/C1 controls; tabs and line breaks are
    text (a postal address has lines)."""
    return character not in "\t\n\r" and unicodedata.category(character) == "Cc"


def _clean_row(loaded: _File, line: int, values: list[str], problem: Callable[[int | None, str], None]) -> _Row:
    """The row's clean values; a value that fails is reported and left out (the import then stops)."""
    clean: dict[str, Any] = {}
    for index, column in enumerate(loaded.columns):
        raw = values[index] if index < len(values) else ""
        if not raw.strip():
            if column.required:
                problem(line, f"{column.name}: enter a value")
            else:
                clean[column.name] = column.blank
            continue
        control = next((character for character in raw if _is_control(character)), None)
        if control is not None:
            problem(line, f"{column.name}: has a control character (U+{ord(control):04X}) that cannot be stored")
            continue
        try:
            clean[column.name] = column.clean(raw)
        except ValidationError as exc:
            shown = raw.strip()
            shown = shown if len(shown) <= 80 else shown[:80] + "..."
            problem(line, f"{column.name}: {' '.join(exc.messages)} (got {shown!r})")
    spec = loaded.spec
    key = spec.key_of(clean[spec.key_column]) if spec.key_column in clean else None
    return _Row(line=line, key=key, values=clean)


def _check_references(files: dict[str, _File], errors: list[RowError]) -> None:
    pharmacies = files.get("pharmacies")
    if pharmacies is None:
        return
    known: dict[str, set[str]] = {}
    for kind in ("owners", "ras", "lpcs"):
        spec = SPECS[kind]
        names = spec.model._default_manager.values_list(spec.key_column, flat=True)  # type: ignore[attr-defined]
        known[kind] = {spec.key_of(name) for name in names}
        if kind in files:
            known[kind] |= {row.key for row in files[kind].rows if row.key is not None}
    for row in pharmacies.rows:
        for column in pharmacies.columns:
            name = row.values.get(column.name)
            if column.refers_to and name and _name_key(name) not in known[column.refers_to]:
                label = SPECS[column.refers_to].label
                errors.append(
                    RowError(
                        pharmacies.display_name,
                        row.line,
                        f"{column.name}: no {label} named {name!r} in the directory or in this import",
                    )
                )


# --- writing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Audit:
    """Bulk writes that also write each row's history (who, when, why), as a form's save does."""

    user: Any
    reason: str

    def create(self, objs: list[Any], model: type[models.Model]) -> None:
        bulk_create_with_history(
            objs, model, batch_size=BATCH_SIZE, default_user=self.user, default_change_reason=self.reason
        )

    def update(self, objs: list[Any], model: type[models.Model], fields: list[str]) -> None:
        bulk_update_with_history(
            objs, model, fields, batch_size=BATCH_SIZE, default_user=self.user, default_change_reason=self.reason
        )


def _ids_by_key(kind: str) -> dict[str, int]:
    spec = SPECS[kind]
    pairs = spec.model._default_manager.values_list(spec.key_column, "pk")  # type: ignore[attr-defined]
    return {spec.key_of(key): pk for key, pk in pairs}


def _field_values(loaded: _File, row: _Row, references: Mapping[str, dict[str, int]]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for column in loaded.columns:
        value = row.values[column.name]
        if column.refers_to:
            value = references[column.refers_to][_name_key(value)] if value else None
        values[column.field] = value
    return values


def _write(
    loaded: _File,
    references: Mapping[str, dict[str, int]],
    progress: Progress,
    progress_every: int,
    audit: Audit,
) -> KindCounts:
    spec = loaded.spec
    model = spec.model
    manager = model._default_manager  # type: ignore[attr-defined]
    existing = {spec.key_of_object(obj): obj for obj in manager.all()}
    has_updated_at = any(f.name == "updated_at" for f in model._meta.get_fields())
    now = timezone.now()
    counts = KindCounts(rows=len(loaded.rows))
    to_create: list[models.Model] = []
    to_update: list[models.Model] = []
    changed_fields: set[str] = set()
    for row in loaded.rows:
        assert row.key is not None  # rows without a key were reported, and nothing is written then
        values = _field_values(loaded, row, references)
        obj = existing.get(row.key)
        if obj is None:
            to_create.append(model(**values))
            continue
        changed = {name: value for name, value in values.items() if getattr(obj, name) != value}
        if not changed:
            counts.unchanged += 1
            continue
        for name, value in changed.items():
            setattr(obj, name, value)
        if has_updated_at:
            obj.updated_at = now  # type: ignore[attr-defined]
        changed_fields.update(changed)
        to_update.append(obj)

    for start in range(0, len(to_create), progress_every):
        batch = to_create[start : start + progress_every]
        audit.create(batch, model)
        counts.created += len(batch)
        if len(to_create) > progress_every:
            progress(f"{loaded.display_name}: created {counts.created} of {len(to_create)}")
    if to_update:
        fields = sorted(changed_fields | ({"updated_at"} if has_updated_at else set()))
        for start in range(0, len(to_update), progress_every):
            batch = to_update[start : start + progress_every]
            audit.update(batch, model, fields)
            counts.updated += len(batch)
            if len(to_update) > progress_every:
                progress(f"{loaded.display_name}: updated {counts.updated} of {len(to_update)}")
    return counts


def directory_import(
    *,
    files: Mapping[str, Path],
    dry_run: bool = False,
    progress: Progress | None = None,
    progress_every: int = 1000,
    user: Any = None,
) -> ImportResult:
    """Check every row of `files` (kind -> CSV path), then upsert them all in one transaction.

    Raises DirectoryImportRejected, having written nothing, when any row is bad. With `dry_run`
    the counts are computed in a transaction that is rolled back. Each row written gets its history
    row (django-simple-history), by `user` (None: the command line), reason "CSV import".
    """
    unknown = set(files) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown kind(s) of file: {', '.join(sorted(unknown))}")
    if progress_every < 1:
        raise ValueError("progress_every must be at least 1")
    report = progress or (lambda message: None)
    errors: list[RowError] = []
    loaded: dict[str, _File] = {}
    for kind in KINDS:
        if kind in files:
            read = _read_file(SPECS[kind], Path(files[kind]), errors, report, progress_every)
            if read is not None:
                loaded[kind] = read
    _check_references(loaded, errors)
    if errors:
        file_order = {Path(files[kind]).name: position for position, kind in enumerate(KINDS) if kind in files}
        errors.sort(key=lambda error: (file_order.get(error.file, 0), error.line or 0))
        raise DirectoryImportRejected(errors)

    result = ImportResult(dry_run=dry_run)
    audit = Audit(user=user, reason="CSV import")
    with transaction.atomic():
        references: dict[str, dict[str, int]] = {}
        for kind in KINDS:
            if kind == "pharmacies":
                references = {ref: _ids_by_key(ref) for ref in ("owners", "ras", "lpcs")}
            if kind in loaded:
                result.counts[kind] = _write(loaded[kind], references, report, progress_every, audit)
        if dry_run:
            transaction.set_rollback(True)
    return result
