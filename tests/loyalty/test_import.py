"""Importing a customer base: messy files in, exact counts out, opening balances in the ledger."""

import io
import itertools
import uuid
from datetime import date, datetime
from decimal import Decimal as D
from pathlib import Path

import openpyxl
import pytest
from django.core.management import call_command

from loyalty.imports.plan import import_plan
from loyalty.imports.reader import ImportFileError, decode, sniff_delimiter
from loyalty.ledger_check import ledger_verify
from loyalty.models import Customer, ImportBatch, ImportMode, ImportState, Operation
from loyalty.selectors import customer_balances
from loyalty.services.bulk import uuid4_strings
from loyalty.services.imports import (
    ImportRollbackRefused,
    ImportStateError,
    import_batch_create,
    import_batch_rollback,
    import_batch_run,
    import_plan_counts,
)
from tests.factories import customer_create

FIXTURES = Path(__file__).parent / "fixtures"
MESSY = FIXTURES / "messy_utf8_bom_semicolon.csv"
CP1251 = FIXTURES / "messy_cp1251_comma.csv"
ENGLISH = FIXTURES / "english_utf8_comma.csv"

pytestmark = pytest.mark.django_db


def run(path: Path, mode=ImportMode.SKIP) -> ImportBatch:
    batch = import_batch_create(data=path.read_bytes(), file_name=path.name, mode=mode)
    return import_batch_run(batch_id=batch.pk)


def test_encoding_is_sniffed_bom_utf8_and_windows_1251():
    assert decode(MESSY.read_bytes())[1] == "utf-8-sig"
    assert decode(CP1251.read_bytes())[1] == "cp1251"
    assert decode(ENGLISH.read_bytes())[1] == "utf-8"
    assert decode(CP1251.read_bytes())[0].startswith("Имя,Фамилия")


def test_delimiter_is_the_one_that_splits_lines_consistently():
    assert sniff_delimiter(["a;b;c", "1;2,5;3"]) == ";"
    assert sniff_delimiter(['a,b,c', '"x; y",2,3']) == ","
    assert sniff_delimiter(["a\tb", "1\t2"]) == "\t"


def test_messy_file_preview_sorts_every_row_with_its_reason(tiers):
    # given a customer who is already in the program
    customer_create(phone="+79161000099")
    # when the owner previews the messy export
    plan = import_plan(data=MESSY.read_bytes(), file_name=MESSY.name)
    # then 5 rows are new, 1 already a customer, 4 rejected with reasons; the blank row is ignored
    assert [r.line for r in plan.new] == [2, 3, 4, 9, 11]
    assert [(r.line, pk) for r, pk in plan.existing] == [(12, Customer.objects.get().pk)]
    reasons = {r.line: r.errors for r in plan.rejected}
    assert set(reasons) == {5, 6, 7, 8}
    assert "duplicate" in reasons[5][0] and "line 2" in reasons[5][0]
    assert "invalid phone" in reasons[6][0]
    assert "no phone" in reasons[7][0]
    assert "opening balance" in reasons[8][0]
    sidorova = next(r for r in plan.new if r.line == 4)
    assert sidorova.phone == "+79161000003" and sidorova.balance == D("1200.50")
    assert sidorova.birthday is None and sidorova.email == ""
    assert len(sidorova.warnings) == 2  # impossible date, invalid e-mail
    assert [r.line for r in plan.problems()] == [4, 5, 6, 7, 8, 12]


def test_messy_file_import_counts_and_ledger(tiers):
    customer_create(phone="+79161000099")
    batch = run(MESSY)
    assert batch.state == ImportState.DONE
    assert (batch.imported, batch.updated, batch.skipped, batch.rejected) == (5, 0, 1, 4)
    assert batch.opening_total == D("1400.50")  # 150 + 1200.50 + 50; the existing one skipped
    anna = Customer.objects.get(phone="+79161000001")
    assert anna.name == "Иванова Анна" and anna.birthday == date(1985, 3, 12)
    assert anna.gender == "female" and anna.source == "Instagram" and not anna.is_registered
    assert sorted(anna.tags.values_list("name", flat=True)) == ["vip", "кофе"]
    assert anna.tier.name == "Base" and anna.import_batch_id == batch.pk
    assert customer_balances(customer=anna)["available"] == D("150.00")
    assert Customer.objects.get(phone="+74951234567").name == "Офис на Тверской"
    assert Customer.objects.get(phone="+79161000005").birthday == date(1988, 5, 5)
    assert Operation.objects.filter(import_batch=batch, kind="opening").count() == 3
    assert "duplicate" in batch.rejected_rows and "8-916-100-00-01" in batch.rejected_rows
    assert ledger_verify().ok
    uids = list(Customer.objects.filter(import_batch=batch).values_list("uid", flat=True))
    assert len(set(uids)) == 5 and {u.version for u in uids} == {4}


def test_bulk_uids_are_random_version_4_uuids():
    drawn = list(itertools.islice(uuid4_strings(chunk=100), 1000))  # across chunk boundaries
    parsed = [uuid.UUID(text) for text in drawn]
    assert len(set(drawn)) == 1000 and [str(u) for u in parsed] == drawn
    assert {(u.version, u.variant) for u in parsed} == {(4, uuid.RFC_4122)}


def test_windows_1251_comma_file_with_first_and_last_names_and_tiers(tiers):
    batch = run(CP1251)
    assert (batch.imported, batch.updated, batch.skipped, batch.rejected) == (3, 0, 0, 2)
    olga = Customer.objects.get(phone="+79162000001")
    assert olga.name == "Ольга Смирнова" and olga.tier.name == "Gold" and olga.tier_pinned
    assert olga.birthday == date(1970, 2, 1)
    elena = Customer.objects.get(phone="+79162000002")
    assert elena.name == "Елена Волкова, мл." and elena.birthday == date(1999, 12, 31)
    assert elena.tier.name == "Base" and not elena.tier_pinned  # "Platinum": no such tier
    assert customer_balances(customer=Customer.objects.get(phone="+79162000003"))["available"] == (
        D("10.50"))
    assert ledger_verify().ok


def test_english_headers_are_recognised_whatever_their_case_and_spacing(tiers):
    batch = run(ENGLISH)
    assert (batch.imported, batch.rejected) == (2, 1)
    anna = Customer.objects.get(phone="+442079460958")
    assert anna.name == "Anna Smith" and anna.email == "anna@smith.co.uk"
    assert sorted(anna.tags.values_list("name", flat=True)) == ["newsletter", "vip"]
    assert anna.tier.name == "Base" and anna.tier_pinned
    bob = Customer.objects.get(phone="+79163000001")
    assert bob.birthday == date(1980, 5, 17) and bob.gender == "male"


def test_xlsx_with_numbers_for_phones_and_date_cells(tiers):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Телефон", "Имя", "Дата рождения", "Бонусы"])
    cell_date = datetime(1991, 4, 2)  # noqa: DTZ001 - a spreadsheet date cell is naive
    sheet.append([79164000001, "Вера", cell_date, 75])
    sheet.append(["8 916 400-00-02", "Глеб", "02.04.1992", None])
    sheet.append([None, None, None, None])
    sheet.append([123, "Ошибка", None, None])
    buffer = io.BytesIO()
    book.save(buffer)
    batch = import_batch_create(data=buffer.getvalue(), file_name="base.xlsx")
    batch = import_batch_run(batch_id=batch.pk)
    assert (batch.imported, batch.rejected) == (2, 1)
    vera = Customer.objects.get(phone="+79164000001")
    assert vera.birthday == date(1991, 4, 2)
    assert customer_balances(customer=vera)["available"] == D("75.00")
    assert ledger_verify().ok


def test_a_file_without_a_phone_column_is_refused():
    with pytest.raises(ImportFileError):
        import_plan(data="Имя;Фамилия\nАнна;Иванова\n".encode(), file_name="x.csv")
    with pytest.raises(ImportFileError):
        import_batch_create(data=b"", file_name="x.csv")


def test_fill_mode_fills_only_empty_fields_and_credits_opening_once(tiers):
    # given an existing customer with a name but no e-mail
    existing = customer_create(phone="+79161000099", name="Вера")
    # when the messy file is imported filling empty fields
    batch = run(MESSY, mode=ImportMode.FILL)
    existing.refresh_from_db()
    # then his name stays, the e-mail and gender are filled and the opening balance is credited
    assert (batch.imported, batch.updated, batch.skipped, batch.rejected) == (5, 1, 0, 4)
    assert existing.name == "Вера" and existing.email == "old@example.com"
    assert existing.gender == "female"
    assert customer_balances(customer=existing)["available"] == D("100.00")
    # and importing the same file again changes nothing and credits nothing twice
    again = run(MESSY, mode=ImportMode.FILL)
    assert (again.imported, again.updated, again.skipped, again.rejected) == (0, 0, 6, 4)
    assert customer_balances(customer=existing)["available"] == D("100.00")
    assert ledger_verify().ok


def test_overwrite_mode_replaces_fields(tiers):
    existing = customer_create(phone="+79161000099", name="Вера")
    batch = run(MESSY, mode=ImportMode.OVERWRITE)
    existing.refresh_from_db()
    assert batch.updated == 1 and existing.name == "Уже Клиент"


def test_dry_run_counts_match_the_real_run(tiers):
    customer_create(phone="+79161000099", name="Вера")
    plan = import_plan(data=MESSY.read_bytes(), mode=ImportMode.FILL)
    counts = import_plan_counts(plan=plan)
    assert Customer.objects.count() == 1
    batch = run(MESSY, mode=ImportMode.FILL)
    assert (counts.imported, counts.updated, counts.skipped, counts.rejected) == (
        batch.imported, batch.updated, batch.skipped, batch.rejected)
    assert counts.opening_total == batch.opening_total


def test_a_batch_runs_once(tiers):
    batch = run(ENGLISH)
    with pytest.raises(ImportStateError):
        import_batch_run(batch_id=batch.pk)


def test_rollback_reverses_every_opening_balance_of_the_batch(tiers):
    # given an imported batch with opening balances, one of them for an existing customer
    existing = customer_create(phone="+79161000099")
    batch = run(MESSY, mode=ImportMode.FILL)
    assert batch.opening_total == D("1500.50")
    # when the owner rolls it back
    import_batch_rollback(batch_id=batch.pk)
    # then every balance is back to zero through reversing entries; nothing was deleted
    batch.refresh_from_db()
    assert batch.state == ImportState.ROLLED_BACK and batch.rolled_back_at
    for customer in Customer.objects.all():
        assert customer_balances(customer=customer)["available"] == D("0.00")
    originals = Operation.objects.filter(import_batch=batch, kind="opening", state="CANCELED")
    reversals = Operation.objects.filter(import_batch=batch, kind="opening", state="REVERSAL")
    assert originals.count() == reversals.count() == 4
    assert all(e.reverses_id for r in reversals for e in r.entries.all())
    assert customer_balances(customer=existing)["available"] == D("0.00")
    assert ledger_verify().ok
    # and a second rollback is refused
    with pytest.raises(ImportStateError):
        import_batch_rollback(batch_id=batch.pk)
    # and the corrected file can be imported again and credits again
    batch2 = run(MESSY, mode=ImportMode.FILL)
    assert batch2.opening_total == D("1500.50")
    assert ledger_verify().ok


def test_rollback_is_refused_when_points_were_already_spent(tiers, branch):
    from loyalty.services import purchase_create

    batch = run(MESSY)
    anna = Customer.objects.get(phone="+79161000001")
    purchase_create(customer=anna, branch=branch, total=1000, points=100)  # 150 → 50 (+45 cashback)
    with pytest.raises(ImportRollbackRefused) as err:
        import_batch_rollback(batch_id=batch.pk)
    assert "+79161000001" in str(err.value)
    batch.refresh_from_db()
    assert batch.state == ImportState.DONE
    assert customer_balances(customer=anna)["available"] == D("95.00")
    assert ledger_verify().ok


def test_importcustomers_command_prints_counts_and_fails_on_rejected_rows(tiers, capsys):
    with pytest.raises(SystemExit) as exit_info:
        call_command("importcustomers", str(MESSY))
    assert exit_info.value.code == 1
    out = capsys.readouterr()
    assert out.out.strip().splitlines()[-1] == "imported 6, updated 0, skipped 0, rejected 4"
    assert "line 5: duplicate" in out.err
    assert ledger_verify().ok


def test_importcustomers_dry_run_writes_nothing(tiers, capsys):
    with pytest.raises(SystemExit):
        call_command("importcustomers", str(CP1251), "--dry-run")
    assert capsys.readouterr().out.strip().splitlines()[-1] == (
        "dry run: imported 3, updated 0, skipped 0, rejected 2")
    assert not Customer.objects.exists() and not ImportBatch.objects.exists()


def test_importcustomers_exits_zero_when_nothing_is_rejected(tiers, tmp_path, capsys):
    path = tmp_path / "clean.csv"
    path.write_text("phone,name\n+79165000001,A\n+79165000002,B\n", encoding="utf-8")
    call_command("importcustomers", str(path))
    call_command("importcustomers", str(path), "--update-existing")
    assert capsys.readouterr().out.strip().splitlines()[-1] == (
        "imported 0, updated 0, skipped 2, rejected 0")
