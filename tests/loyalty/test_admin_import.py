"""The owner's import screens and the merge action, through Django's test client."""

from decimal import Decimal as D
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from loyalty.ledger_check import ledger_verify
from loyalty.models import Customer, ImportBatch, ImportState
from loyalty.selectors import customer_balances
from tests.factories import customer_create

MESSY = Path(__file__).parent / "fixtures" / "messy_utf8_bom_semicolon.csv"
pytestmark = pytest.mark.django_db


def test_upload_preview_run_result_and_rollback(admin_client, tiers,
                                                django_capture_on_commit_callbacks):
    # given the owner uploads the messy export
    response = admin_client.post(reverse("admin:loyalty_importbatch_add"), {
        "file": SimpleUploadedFile("base.csv", MESSY.read_bytes()), "mode": "skip"})
    batch = ImportBatch.objects.get()
    assert response.status_code == 302 and response.url.endswith(f"/{batch.pk}/preview/")
    # then the preview shows the recognised columns, the counts and the rows with problems
    page = admin_client.get(response.url).content.decode()
    assert 'value="phone" selected' in page and 'value="balance" selected' in page
    assert "duplicate: the same phone is on line 2" in page
    assert "birthday not understood" in page
    assert not Customer.objects.exists()
    # when he ignores the balance column and checks again, no opening balance is planned
    form = {f"col_{i}": field for i, (_text, field) in enumerate(batch.mapping)}
    form["mode"] = "skip"
    balance_col = next(k for k, v in form.items() if v == "balance")
    page = admin_client.post(reverse("admin:loyalty_importbatch_preview", args=[batch.pk]),
                             {**form, balance_col: "", "refresh": "1"}).content.decode()
    assert "<td>0.00</td>" in page or "<td>0,00</td>" in page
    # and when he puts it back and runs the import (eager Celery: it runs at once)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:loyalty_importbatch_preview", args=[batch.pk]),
                                     {**form, "run": "1"})
    assert response.url.endswith(f"/{batch.pk}/progress/")
    batch.refresh_from_db()
    assert batch.state == ImportState.DONE
    assert (batch.imported, batch.updated, batch.skipped, batch.rejected) == (6, 0, 0, 4)
    page = admin_client.get(response.url).content.decode()
    assert 'id="import-result"' in page and "rejected.csv" in page
    # then the rejected rows download as CSV with the reasons
    csv = admin_client.get(reverse("admin:loyalty_importbatch_rejected", args=[batch.pk]))
    text = csv.content.decode("utf-8-sig")
    assert csv["Content-Type"].startswith("text/csv") and len(text.strip().splitlines()) == 5
    assert "invalid phone number: 12345" in text
    # and the owner can roll back the opening balances
    admin_client.post(reverse("admin:loyalty_importbatch_rollback", args=[batch.pk]))
    batch.refresh_from_db()
    assert batch.state == ImportState.ROLLED_BACK
    anna = Customer.objects.get(phone="+79161000001")
    assert customer_balances(customer=anna)["available"] == D("0.00")
    assert ledger_verify().ok


def test_upload_of_a_file_without_phones_says_why(admin_client):
    response = admin_client.post(reverse("admin:loyalty_importbatch_add"), {
        "file": SimpleUploadedFile("x.csv", b""), "mode": "skip"})
    assert response.status_code == 200 and not ImportBatch.objects.exists()


def test_merge_action_keeps_the_chosen_record(admin_client, tiers):
    old = customer_create(phone="+79160000021")
    new = customer_create(phone="+79160000022")
    url = reverse("admin:loyalty_customer_changelist")
    page = admin_client.post(url, {"action": "merge_customers", "_selected_action": [old.pk, new.pk]})
    assert page.status_code == 200 and "Keep" in page.content.decode()
    admin_client.post(url, {"action": "merge_customers", "_selected_action": [old.pk, new.pk],
                            "apply": "1", "keep": new.pk, "reason": "new number"})
    old.refresh_from_db()
    assert old.merged_into_id == new.pk and old.closed_at
    assert ledger_verify().ok


def test_progress_page_refreshes_itself_while_the_import_runs(admin_client):
    batch = ImportBatch.objects.create(file_name="big.csv", content=b"", state=ImportState.RUNNING,
                                       total_rows=1000, processed_rows=250)
    page = admin_client.get(reverse("admin:loyalty_importbatch_progress", args=[batch.pk]))
    text = page.content.decode()
    assert '<meta http-equiv="refresh"' in text
    assert 'id="import-progress" max="100" value="25"' in text


def test_a_closed_record_opens_in_the_admin_with_its_phone_read_only(admin_client, tiers):
    from loyalty.services.merge import customer_merge

    old, new = customer_create(phone="+79160000031"), customer_create(phone="+79160000032")
    customer_merge(source=old, target=new)
    page = admin_client.get(reverse("admin:loyalty_customer_change", args=[old.pk]))
    assert page.status_code == 200 and 'name="phone"' not in page.content.decode()
    found = admin_client.get(reverse("admin:loyalty_customer_changelist"), {"q": "8 916 000-00-31"})
    assert f"/{old.pk}/change/" in found.content.decode()
    assert admin_client.get(reverse("admin:loyalty_importbatch_changelist")).status_code == 200
