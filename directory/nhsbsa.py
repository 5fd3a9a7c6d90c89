"""Import NHSBSA's "Contractor Details" CSV, as published (shared/domain/directory-sources.md).

One row per premises. The file gives pharmacies (CONTRACTOR_CODE, the ODS code), their owners
(CONTRACTOR_NAME) and LPCs (LPC_CODE, LPC_NAME), and each pharmacy's ICB; not RAs, emails or people.

Steps, as for the directory's own CSV files (directory.importer):
1. Read the header by name (any order, any case). Columns of the 2025 data dictionary that are
   missing are reported, with what is then left as it is (2023-24 files have no LPC_* columns, so
   LPCs are left alone); columns nobody knows are reported and ignored; a file without the columns
   it cannot do without (the ODS code, owner, trading name, postcode) is refused.
2. Check every row: the ODS code must look like one (NHSBSA once re-uploaded a month with its
   columns shifted: such a file is refused, not half-imported), postcodes and dates (START_DATE as
   YYYYMMDD, or dd/mm/yyyy in 2023-24 files), codes, lengths, an ODS code only once. Any problem:
   nothing is written, and every problem is listed with its line. A phone number that is not a UK
   number is a warning: that pharmacy's phone is left as it is.
3. In one transaction, with bulk writes that also write the history rows (django-simple-history):
   owners by name (without regard to case), LPCs by LPC code (or by name, for an LPC typed in
   before it had a code), pharmacies by ODS code; each created, updated (and reactivated) or left
   unchanged. A pharmacy's RA is its ICB's RA in the ICB -> RA table (IcbRegistrationAuthority)
   unless `ra_is_exception`; an ICB missing from the table leaves the RA as it is.
4. Closed pharmacies: the file lists the contractors open in its month and has no "closed" marker,
   so an active pharmacy whose ODS code is not in the file has closed (or moved out of the list):
   it is deactivated, never deleted, unless `keep_missing`. The locum code FFFFF is never touched.

A second import of the same file changes nothing.
"""

from __future__ import annotations

import datetime
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from directory.importer import (
    BATCH_SIZE,
    Audit,
    DirectoryImportRejected,
    KindCounts,
    Progress,
    RowError,
    read_records,
)
from directory.models import LPC, IcbRegistrationAuthority, Pharmacy, PharmacyOwner
from directory.validators import (
    LOCUM_ODS_CODE,
    clean_multiline,
    clean_text,
    normalise_ods_code,
    normalise_org_code,
    normalise_phone,
    normalise_postcode,
)

#: The columns of the 2025 data dictionary, in its order.
COLUMNS_2025 = (
    "YEAR_MONTH",
    "REGION_CODE",
    "REGION_NAME",
    "ICB_CODE",
    "ICB_NAME",
    "HWB_CODE",
    "HWB_NAME",
    "LPC_CODE",
    "LPC_NAME",
    "START_DATE",
    "CONTRACTOR_CODE",
    "CONTRACTOR_NAME",
    "TRADING_NAME",
    "ADDRESS_FIELD1",
    "ADDRESS_FIELD2",
    "ADDRESS_FIELD3",
    "ADDRESS_FIELD4",
    "POST_CODE",
    "PHONE_NUMBER",
    "PHARMACY_TYPE",
    "PRIVATE",
)
#: The 2023-24 files: no YEAR_MONTH, REGION_*, HWB_* or LPC_* (and START_DATE as dd/mm/yyyy).
COLUMNS_2023 = tuple(
    name for name in COLUMNS_2025 if name != "YEAR_MONTH" and not name.startswith(("REGION_", "HWB_", "LPC_"))
)
LAYOUTS = {"2025": COLUMNS_2025, "2023-24": COLUMNS_2023}
REQUIRED = ("CONTRACTOR_CODE", "CONTRACTOR_NAME", "TRADING_NAME", "POST_CODE")
ADDRESS_COLUMNS = ("ADDRESS_FIELD1", "ADDRESS_FIELD2", "ADDRESS_FIELD3", "ADDRESS_FIELD4")

# What is left as it is when a group of columns is missing.
_LEFT_AS_IS = {
    "LPC_CODE": "pharmacies' LPCs are left as they are",
    "ICB_CODE": "pharmacies' ICBs and RAs are left as they are",
    "PHONE_NUMBER": "phone numbers are left as they are",
    "ADDRESS_FIELD1": "addresses are left as they are",
}
_YEAR_MONTH = re.compile(r"^(20\d\d)(0[1-9]|1[0-2])$")
_NAME_MAX = 200


def _max_length(model: Any, name: str) -> int:
    length = model._meta.get_field(name).max_length
    assert isinstance(length, int)
    return length


def _name_key(value: str) -> str:
    return " ".join(value.split()).casefold()


def _start_date(value: str) -> datetime.date:
    text = value.strip()
    for fmt in ("%Y%m%d", "%d/%m/%Y", "%Y-%m-%d"):
        try:
            return datetime.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValidationError("Enter a date as YYYYMMDD (or dd/mm/yyyy in 2023-24 files).")


# --- the result ---------------------------------------------------------------------------------


@dataclass
class NhsbsaCounts(KindCounts):
    deactivated: int = 0


@dataclass
class NhsbsaResult:
    file: str
    layout: str  # "2025", "2023-24" or "other"
    months: list[str] = field(default_factory=list)  # YEAR_MONTH values, when the file has them
    counts: dict[str, NhsbsaCounts] = field(default_factory=dict)  # owners, lpcs, pharmacies
    ignored_columns: list[str] = field(default_factory=list)
    missing_columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what missing columns leave as it is
    warnings: list[RowError] = field(default_factory=list)
    icbs_without_ra: list[tuple[str, str, int]] = field(default_factory=list)  # code, name, pharmacies
    pharmacies_without_ra: int = 0  # active pharmacies with no RA after the import
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        return any(c.created or c.updated or c.deactivated for c in self.counts.values())

    def summary_lines(self) -> list[str]:
        """What the import found and changed, one line each, for the terminal and the upload page."""
        month = f", month {', '.join(self.months)}" if self.months else ""
        lines = [f"{self.file}: the {self.layout} column layout{month}"]
        if self.missing_columns:
            lines.append(f"missing column(s): {', '.join(self.missing_columns)}")
        lines += [f"  so {note}" for note in self.notes]
        if self.ignored_columns:
            lines.append(f"unknown column(s), ignored: {', '.join(self.ignored_columns)}")
        for kind, c in self.counts.items():
            deactivated = f", {c.deactivated} deactivated" if kind == "pharmacies" else ""
            lines.append(
                f"{kind}: {c.rows} in the file: {c.created} created, {c.updated} updated, "
                f"{c.unchanged} unchanged{deactivated}"
            )
        lines += [f"warning: {warning}" for warning in self.warnings]
        for code, name, count in self.icbs_without_ra:
            lines.append(f"ICB {code} {name}: not in the ICB -> RA table ({count} pharmacies)")
        lines.append(f"active pharmacies without an RA: {self.pharmacies_without_ra}")
        return lines


# --- reading and checking -----------------------------------------------------------------------


@dataclass
class _Row:
    line: int
    ods_code: str
    name: str
    owner: str
    postcode: str
    address: str | None  # None: the file has no address columns
    phone: str | None  # None: no column, blank or not a UK number (left as it is)
    lpc_code: str | None  # None: no LPC columns; "" no LPC given
    lpc_name: str
    icb_code: str | None  # None: no ICB columns
    icb_name: str


@dataclass
class _Read:
    result: NhsbsaResult
    rows: list[_Row]
    columns: set[str]


def _header_name(name: str | None) -> str:
    return "_".join((name or "").strip().upper().split())


def _read(path: Path, display_name: str, errors: list[RowError], progress: Progress, every: int) -> _Read | None:
    def problem(line: int | None, message: str) -> None:
        errors.append(RowError(display_name, line, message))

    records = read_records(path, display_name, errors)
    if records is None:
        return None
    _, header = records[0]
    names = [_header_name(name) for name in header]
    repeated = sorted({name for name in names if names.count(name) > 1})
    missing_required = [name for name in REQUIRED if name not in names]
    if repeated:
        problem(1, f"column(s) named twice: {', '.join(repeated)}")
    if missing_required:
        problem(1, f"missing required column(s): {', '.join(missing_required)}; is this NHSBSA's Contractor Details?")
    if repeated or missing_required:
        return None
    present = set(names)
    layout = next((name for name, columns in LAYOUTS.items() if present >= set(columns)), "other")
    expected = LAYOUTS["2023-24" if layout == "2023-24" else "2025"]
    result = NhsbsaResult(
        file=display_name,
        layout=layout,
        ignored_columns=[name or "(blank)" for name in names if name not in COLUMNS_2025],
        missing_columns=[name for name in expected if name not in present] if layout == "other" else [],
    )
    if layout == "2023-24":
        result.missing_columns = [name for name in COLUMNS_2025 if name not in present]
    has_lpc = {"LPC_CODE", "LPC_NAME"} <= present
    has_icb = "ICB_CODE" in present
    has_phone = "PHONE_NUMBER" in present
    has_address = any(name in present for name in ADDRESS_COLUMNS)
    for column, has in (("LPC_CODE", has_lpc), ("ICB_CODE", has_icb), ("PHONE_NUMBER", has_phone)):
        if not has:
            result.notes.append(_LEFT_AS_IS[column])
    if not has_address:
        result.notes.append(_LEFT_AS_IS["ADDRESS_FIELD1"])
    index = {name: position for position, name in enumerate(names)}
    name_max = _max_length(Pharmacy, "name")
    months: set[str] = set()
    first_line: dict[str, int] = {}
    rows: list[_Row] = []
    data = records[1:]
    for count, (line, values) in enumerate(data, start=1):
        if count % every == 0:
            progress(f"{display_name}: checked {count} of {len(data)} rows")
        if not any(value.strip() for value in values):
            continue
        if len(values) > len(names):
            problem(line, f"has {len(values)} values but the header names {len(names)} columns")
            continue
        cells = _Cells(index, values)
        value, clean, failures = cells.value, cells.clean, cells.failures
        ods_code = clean("CONTRACTOR_CODE", normalise_ods_code, required=True)
        owner = clean("CONTRACTOR_NAME", lambda v: clean_text(v, _NAME_MAX), required=True)
        name = clean("TRADING_NAME", lambda v: clean_text(v, name_max), required=True)
        postcode = clean("POST_CODE", normalise_postcode, required=True)
        clean("START_DATE", _start_date)
        month = clean("YEAR_MONTH", lambda v: _checked(v, _YEAR_MONTH, "Enter the month as YYYYMM."))
        if month:
            months.add(month)
        lpc_code = clean("LPC_CODE", lambda v: normalise_org_code(v, "LPC code")) if has_lpc else None
        lpc_name = clean("LPC_NAME", lambda v: clean_text(v, _max_length(LPC, "name"))) if has_lpc else ""
        if lpc_code and not lpc_name:
            failures.append("LPC_NAME: enter a value (the row has an LPC_CODE)")
        icb_code = clean("ICB_CODE", lambda v: normalise_org_code(v, "ICB code")) if has_icb else None
        icb_name = clean("ICB_NAME", lambda v: clean_text(v, _max_length(Pharmacy, "icb_name"))) if has_icb else ""
        address = clean_multiline("\n".join(value(c) for c in ADDRESS_COLUMNS)) if has_address else None
        phone: str | None = None
        if has_phone and value("PHONE_NUMBER"):
            try:
                phone = normalise_phone(value("PHONE_NUMBER"))
            except ValidationError as exc:
                message = f"PHONE_NUMBER: {' '.join(exc.messages)} (got {value('PHONE_NUMBER')!r}): left as it is"
                result.warnings.append(RowError(display_name, line, message))
        for failure in failures:
            problem(line, failure)
        if failures:
            continue
        if ods_code in first_line:
            problem(line, f"CONTRACTOR_CODE {ods_code!r} is also on line {first_line[ods_code]}")
            continue
        first_line[ods_code] = line
        rows.append(
            _Row(
                line=line,
                ods_code=ods_code,
                name=name,
                owner=owner,
                postcode=postcode,
                address=address,
                phone=phone,
                lpc_code=lpc_code,
                lpc_name=lpc_name,
                icb_code=icb_code,
                icb_name=icb_name,
            )
        )
    result.months = sorted(months)
    return _Read(result=result, rows=rows, columns=present)


class _Cells:
    """One row's values by column name, cleaned, with what failed."""

    def __init__(self, index: dict[str, int], values: list[str]) -> None:
        self.index, self.values = index, values
        self.failures: list[str] = []

    def value(self, column: str) -> str:
        position = self.index.get(column)
        return self.values[position].strip() if position is not None and position < len(self.values) else ""

    def clean(self, column: str, cleaner: Callable[[str], Any], *, required: bool = False) -> Any:
        raw = self.value(column)
        if not raw:
            if required:
                self.failures.append(f"{column}: enter a value")
            return ""
        try:
            return cleaner(raw)
        except ValidationError as exc:
            self.failures.append(f"{column}: {' '.join(exc.messages)} (got {raw!r})")
            return ""


def _checked(value: str, pattern: re.Pattern[str], message: str) -> str:
    if not pattern.match(value):
        raise ValidationError(message)
    return value


# --- writing ------------------------------------------------------------------------------------


class _Writer:
    """Upserts in memory, then bulk writes with history, counting as it goes."""

    def __init__(self, audit: Audit, progress: Progress, every: int, display_name: str) -> None:
        self.audit, self.progress, self.every, self.display_name = audit, progress, every, display_name
        self.now = timezone.now()

    def flush(self, kind: str, model: Any, create: list[Any], update: list[Any], fields: set[str]) -> None:
        for start in range(0, len(create), BATCH_SIZE):
            self.audit.create(create[start : start + BATCH_SIZE], model)
            if len(create) > self.every:
                done = min(start + BATCH_SIZE, len(create))
                self.progress(f"{self.display_name}: {kind}: created {done} of {len(create)}")
        if update:
            names = sorted(fields)
            for start in range(0, len(update), BATCH_SIZE):
                self.audit.update(update[start : start + BATCH_SIZE], model, names)
                if len(update) > self.every:
                    self.progress(
                        f"{self.display_name}: {kind}: updated {min(start + BATCH_SIZE, len(update))} of {len(update)}"
                    )


def _apply(obj: Any, values: dict[str, Any], fields: set[str], now: datetime.datetime | None) -> bool:
    changed = {name: value for name, value in values.items() if getattr(obj, name) != value}
    for name, value in changed.items():
        setattr(obj, name, value)
    if changed and now is not None:
        obj.updated_at = now
        fields.add("updated_at")
    fields.update(changed)
    return bool(changed)


def _keep_own_case(obj: Any, values: dict[str, Any], names: tuple[str, ...]) -> None:
    """NHSBSA writes names in capitals: a value the directory has in its own case (typed by the
    directory manager, "Dalebrook Pharmacy" for "DALEBROOK PHARMACY") is kept as it is."""
    for name in names:
        if name in values and _name_key(getattr(obj, name)) == _name_key(values[name]):
            values[name] = getattr(obj, name)


def _write_owners(read: _Read, writer: _Writer) -> tuple[NhsbsaCounts, dict[str, int]]:
    wanted: dict[str, str] = {}
    for row in read.rows:
        wanted.setdefault(_name_key(row.owner), row.owner)
    existing = {_name_key(owner.name): owner for owner in PharmacyOwner.objects.all()}
    counts = NhsbsaCounts(rows=len(wanted))
    create, update, fields = [], [], set[str]()
    for key, name in wanted.items():
        owner = existing.get(key)
        if owner is None:
            create.append(PharmacyOwner(name=name, active=True))
        elif _apply(owner, {"active": True}, fields, None):
            update.append(owner)
        else:
            counts.unchanged += 1
    writer.flush("owners", PharmacyOwner, create, update, fields)
    counts.created, counts.updated = len(create), len(update)
    ids = {_name_key(name): pk for name, pk in PharmacyOwner.objects.values_list("name", "pk")}
    return counts, ids


def _write_lpcs(read: _Read, writer: _Writer, errors: list[RowError]) -> tuple[NhsbsaCounts, dict[str, int]]:
    wanted: dict[str, tuple[str, int]] = {}  # code -> (name, first line)
    for row in read.rows:
        if row.lpc_code:
            wanted.setdefault(row.lpc_code, (row.lpc_name, row.line))
    lpcs = list(LPC.objects.all())
    by_code = {lpc.code: lpc for lpc in lpcs if lpc.code}
    by_name = {_name_key(lpc.name): lpc for lpc in lpcs}
    counts = NhsbsaCounts(rows=len(wanted))
    create, update, fields = [], [], set[str]()
    for code, (name, line) in wanted.items():
        lpc = by_code.get(code)
        if lpc is None:
            lpc = by_name.get(_name_key(name))
            if lpc is not None and lpc.code:  # that name belongs to an LPC of another code
                message = f"LPC_NAME {name!r}: the directory's LPC of that name has code {lpc.code}, not {code}"
                errors.append(RowError(read.result.file, line, message))
                continue
        if lpc is None:
            lpc = LPC(name=name, code=code, active=True)
            by_name[_name_key(name)] = lpc
            create.append(lpc)
            continue
        other = by_name.get(_name_key(name))
        if other is not None and other is not lpc:
            errors.append(
                RowError(read.result.file, line, f"LPC_NAME {name!r}: another LPC of the directory has that name")
            )
            continue
        values = {"name": name, "code": code, "active": True}
        _keep_own_case(lpc, values, ("name",))
        if _apply(lpc, values, fields, writer.now):
            update.append(lpc)
        else:
            counts.unchanged += 1
    if errors:
        return counts, {}
    writer.flush("lpcs", LPC, create, update, fields)
    counts.created, counts.updated = len(create), len(update)
    ids = dict(LPC.objects.exclude(code="").values_list("code", "pk"))
    return counts, ids


def _write_pharmacies(
    read: _Read, writer: _Writer, owners: dict[str, int], lpcs: dict[str, int], keep_missing: bool
) -> NhsbsaCounts:
    ra_of_icb = dict(IcbRegistrationAuthority.objects.values_list("icb_code", "ra_id"))
    existing = {pharmacy.ods_code: pharmacy for pharmacy in Pharmacy.objects.all()}
    counts = NhsbsaCounts(rows=len(read.rows))
    create, update, fields = [], [], set[str]()
    for number, row in enumerate(read.rows, start=1):
        if number % writer.every == 0:
            writer.progress(f"{writer.display_name}: compared {number} of {len(read.rows)} pharmacies")
        values: dict[str, Any] = {
            "name": row.name,
            "postcode": row.postcode,
            "owner_id": owners[_name_key(row.owner)],
            "active": True,
        }
        if row.address is not None:
            values["address"] = row.address
        if row.phone is not None:
            values["phone"] = row.phone
        if row.lpc_code is not None:
            values["lpc_id"] = lpcs[row.lpc_code] if row.lpc_code else None
        if row.icb_code is not None:
            values["icb_code"], values["icb_name"] = row.icb_code, row.icb_name
        pharmacy = existing.get(row.ods_code)
        if pharmacy is not None:
            _keep_own_case(pharmacy, values, ("name", "address"))
        icb = row.icb_code if row.icb_code is not None else (pharmacy.icb_code if pharmacy else "")
        icb_ra = ra_of_icb.get(icb)
        if icb_ra is not None and not (pharmacy is not None and pharmacy.ra_is_exception):
            values["ra_id"] = icb_ra
        if pharmacy is None:
            create.append(Pharmacy(ods_code=row.ods_code, **values))
        elif _apply(pharmacy, values, fields, writer.now):
            update.append(pharmacy)
        else:
            counts.unchanged += 1
    counts.created, counts.updated = len(create), len(update)
    if not keep_missing:
        listed = {row.ods_code for row in read.rows}
        closed = [
            pharmacy
            for code, pharmacy in existing.items()
            if pharmacy.active and code not in listed and code != LOCUM_ODS_CODE
        ]
        for pharmacy in closed:
            _apply(pharmacy, {"active": False}, fields, writer.now)
        update += closed
        counts.deactivated = len(closed)
    writer.flush("pharmacies", Pharmacy, create, update, fields)
    return counts


def nhsbsa_import(
    *,
    path: Path,
    display_name: str | None = None,
    dry_run: bool = False,
    keep_missing: bool = False,
    progress: Progress | None = None,
    progress_every: int = 1000,
    user: Any = None,
) -> NhsbsaResult:
    """Check every row of NHSBSA's Contractor Details file at `path`, then upsert it all in one
    transaction (the module's docstring lists the steps). Raises DirectoryImportRejected, having
    written nothing, when any row is bad. With `dry_run` the changes are counted, then rolled back."""
    if progress_every < 1:
        raise ValueError("progress_every must be at least 1")
    report = progress or (lambda message: None)
    name = display_name or Path(path).name
    errors: list[RowError] = []
    read = _read(Path(path), name, errors, report, progress_every)
    if errors or read is None:
        errors.sort(key=lambda error: error.line or 0)
        raise DirectoryImportRejected(errors)
    result = read.result
    result.dry_run = dry_run
    writer = _Writer(Audit(user=user, reason=f"NHSBSA import of {name}"), report, progress_every, name)
    with transaction.atomic():
        result.counts["owners"], owners = _write_owners(read, writer)
        lpc_counts, lpcs = _write_lpcs(read, writer, errors)
        if errors:
            raise DirectoryImportRejected(errors)  # rolls the transaction back
        if "LPC_CODE" in read.columns:
            result.counts["lpcs"] = lpc_counts
        result.counts["pharmacies"] = _write_pharmacies(read, writer, owners, lpcs, keep_missing)
        _count_without_ra(read, result)
        if dry_run:
            transaction.set_rollback(True)
    return result


def _count_without_ra(read: _Read, result: NhsbsaResult) -> None:
    in_table = set(IcbRegistrationAuthority.objects.values_list("icb_code", flat=True))
    missing: Counter[tuple[str, str]] = Counter(
        (row.icb_code, row.icb_name) for row in read.rows if row.icb_code and row.icb_code not in in_table
    )
    result.icbs_without_ra = sorted((code, name, count) for (code, name), count in missing.items())
    result.pharmacies_without_ra = Pharmacy.objects.filter(active=True, ra__isnull=True).count()
