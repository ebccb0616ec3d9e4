"""The till's screens through the test client: search, sale, register, shift, refund."""

from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import timezone

from cashier import selectors
from loyalty.models import Customer, Operation
from loyalty.program_cache import program_get
from loyalty.selectors import customer_balances
from loyalty.services import customer_register, points_adjust, purchase_create
from tests.factories import customer_create, program_set

from .conftest import cashier_make, htmx

pytestmark = pytest.mark.django_db


def spendable(customer):
    return customer_balances(customer=customer)["available"]


@pytest.fixture
def anna(tiers):
    """A registered Base-tier customer (5% cashback, 30% cap) holding 600 points."""
    customer = customer_register(phone="+79001234567", name="Anna")
    points_adjust(customer=customer, amount=600, reason="opening")
    return customer


def sale(**fields):
    return {"request_id": "req-1", **fields}


# --- Finding the customer ---------------------------------------------------------------------

@pytest.mark.parametrize("typed", ["8 900 123-45-67", "+7 (900) 123 45 67", "9001234567",
                                   "89001234567"])
def test_any_spelling_of_the_phone_finds_the_customer(till, anna, typed):
    response = till.get(reverse("cashier:search"), {"q": typed}, **htmx())
    assert response.context["result"].customers == [anna]


def test_the_last_four_digits_find_the_customer(till, anna):
    response = till.get(reverse("cashier:search"), {"q": "4567"}, **htmx())
    assert response.context["result"].customers == [anna]
    assert "+7 900 ***-**-67" in response.content.decode()


def test_fewer_than_four_digits_ask_for_more(till, anna):
    response = till.get(reverse("cashier:search"), {"q": "567"}, **htmx())
    assert response.context["result"].customers == []
    assert "Type at least 4 digits." in response.content.decode()


def test_enter_on_a_single_match_opens_the_customer(till, anna):
    response = till.get(reverse("cashier:search"), {"q": "4567", "pick": "1"}, **htmx())
    assert response.context["customer"] == anna
    assert response["HX-Push-Url"] == reverse("cashier:customer", args=[anna.pk])


def test_without_javascript_the_search_form_still_opens_the_customer(till, anna):
    response = till.get(reverse("cashier:search"), {"q": "8 900 123 45 67"})
    assert response.context["customer"] == anna
    assert b"<html" in response.content


def test_an_unknown_phone_offers_to_sell_to_it_or_register_it(till, tiers):
    response = till.get(reverse("cashier:search"), {"q": "8 912 000 11 22", "pick": "1"}, **htmx())
    page = response.content.decode()
    assert response.context["result"].unknown_phone
    assert "Sell to this number" in page and "+7 912 000-11-22" in page
    assert "Register" in page


def test_selling_to_an_unknown_number_makes_a_phone_only_customer(till, tiers):
    response = till.post(reverse("cashier:sell_to_phone"), {"phone": "+79120001122"})
    customer = Customer.objects.get(phone="+79120001122")
    assert response.url == reverse("cashier:customer", args=[customer.pk])
    assert not customer.is_registered
    assert spendable(customer) == D("0.00")


def test_a_six_digit_payment_code_is_looked_up_through_the_hook(till, anna, monkeypatch):
    # given the customer card issue's lookup (a stand-in here) knows the code 123456
    monkeypatch.setattr(selectors, "customer_get_by_payment_code",
                        lambda *, code: anna if code == "123456" else None)
    response = till.get(reverse("cashier:search"), {"q": "123456", "pick": "1"}, **htmx())
    assert response.context["customer"] == anna


def test_until_codes_exist_six_digits_search_the_phone_endings(till, anna):
    assert selectors.customer_get_by_payment_code(code="234567") is None
    response = till.get(reverse("cashier:search"), {"q": "234567"}, **htmx())
    assert response.context["result"].customers == [anna]


def test_the_lookup_runs_a_fixed_number_of_queries_whatever_the_history(
        till, tiers, branch, django_assert_num_queries):
    # given a newcomer and a regular with 25 sales behind him (and the program's settings row)
    program_set()
    newcomer = customer_create(phone="+79001110001")
    regular = customer_create(phone="+79001110002")
    for _ in range(25):
        purchase_create(customer=regular, branch=branch, total=100)

    def lookup(phone):
        search = till.get(reverse("cashier:search"), {"q": phone, "pick": "1"}, **htmx())
        assert search.status_code == 200
        calc = till.post(reverse("cashier:calc", args=[search.context["customer"].pk]),
                         sale(total="500"), **htmx())
        assert calc.context["calc"] is not None

    # then finding either of them and calculating a bill costs the same queries. Each request:
    # session, user, branch binding; the search adds his accounts with him and his tier (one
    # query), latest operations (5), active certificates (6), campaign settings (7); the
    # calculation: accounts with customer (4). The program's
    # settings come from the per-process cache (loyalty.program_cache), warm here.
    program_get()
    with django_assert_num_queries(11):
        lookup("8 900 111-00-01")
    with django_assert_num_queries(11):
        lookup("8 900 111-00-02")
    assert newcomer.pk != regular.pk


# --- The customer panel and the live calculation ------------------------------------------------

def test_the_panel_shows_masked_phone_tier_cashback_and_balances(till, anna):
    page = till.get(reverse("cashier:customer", args=[anna.pk])).content.decode()
    assert "+7 900 ***-**-67" in page and "+79001234567" not in page.replace('value="+79001234567"', "")
    assert "Base" in page and "5%" in page
    assert "up to 30% of the bill, at most 600 points" in page


def test_the_calculation_prefills_the_most_points_allowed(till, anna):
    response = till.post(reverse("cashier:calc", args=[anna.pk]), sale(total="1 000"), **htmx())
    calc = response.context["calc"]
    # 30% of 1 000 = 300 ≤ 600 points held: pay 700 in money, 5% of 700 = 35 cashback
    assert (calc.max_points, calc.points, calc.cash, calc.cashback) == (
        D("300.00"), D("300.00"), D("700.00"), D("35.00"))
    page = response.content.decode()
    assert 'id="id_points"' in page and 'hx-swap-oob="true"' in page and 'value="300"' in page


def test_points_the_cashier_typed_are_kept(till, anna):
    response = till.post(reverse("cashier:calc", args=[anna.pk]),
                         sale(total="1000", points="100", points_touched="1"), **htmx())
    assert response.context["calc"].points == D("100.00")
    assert 'hx-swap-oob' not in response.content.decode()


def test_over_redemption_is_explained_in_plain_words(till, anna):
    response = till.post(reverse("cashier:calc", args=[anna.pk]),
                         sale(total="500", points="300", points_touched="1"), **htmx())
    assert response.context["calc"] is None
    assert "At most 150 points can be redeemed on this bill." in response.content.decode()


def test_more_points_than_held_is_explained(till, anna, tiers):
    tiers[0].max_redeem_percent = D(100)
    tiers[0].save()
    response = till.post(reverse("cashier:calc", args=[anna.pk]),
                         sale(total="5000", points="700", points_touched="1"), **htmx())
    assert "Not enough points: 600 available." in response.content.decode()


@pytest.mark.parametrize("total", ["abc", "-5", "1..2"])
def test_an_amount_that_is_not_a_number_is_explained(till, anna, total):
    response = till.post(reverse("cashier:calc", args=[anna.pk]), sale(total=total), **htmx())
    assert "The amount is not valid." in response.content.decode()


@pytest.mark.parametrize("view", ["cashier:calc", "cashier:sell"])
def test_a_barcode_typed_into_the_bill_is_refused_not_booked(till, anna, view):
    response = till.post(reverse(view, args=[anna.pk]), sale(total="4601234567893"), **htmx())
    assert response.status_code == 200
    assert "The amount is too large: at most 100" in response.content.decode()
    assert not Operation.objects.filter(kind="purchase").exists()


def test_a_part_not_in_the_program_larger_than_the_bill_is_explained_on_its_field(till, anna):
    response = till.post(reverse("cashier:calc", args=[anna.pk]),
                         sale(total="1000", excluded_total="1500"), **htmx())
    assert response.context["form"].errors["excluded_total"] == [
        "The part not in the program cannot be more than the bill."]


def test_a_blocked_customer_is_shown_as_such_with_no_sale_form(till, anna):
    anna.is_blocked = True
    anna.save()
    page = till.get(reverse("cashier:customer", args=[anna.pk])).content.decode()
    assert 'data-testid="blocked"' in page and "nothing: the customer is blocked" in page
    assert reverse("cashier:sell", args=[anna.pk]) not in page


def test_below_every_tier_the_till_shows_the_strictest_cap(till, anna, tiers):
    tiers[0].min_total_spent = D(1000)
    tiers[0].save()
    anna.tier = None
    anna.save()
    page = till.get(reverse("cashier:customer", args=[anna.pk])).content.decode()
    assert "up to 30% of the bill" in page


def test_a_receipt_number_already_sold_today_is_pointed_out_while_typing(till, anna, branch):
    first = purchase_create(customer=anna, branch=branch, total=300, receipt_number="R-1")
    response = till.post(reverse("cashier:calc", args=[anna.pk]),
                         sale(total="300", receipt_number="R-1"), **htmx())
    page = response.content.decode()
    assert 'data-testid="same-receipt"' in page
    assert "Receipt R-1 was already recorded today at" in page and f"#{first.operation_id}" in page
    other = till.post(reverse("cashier:calc", args=[anna.pk]),
                      sale(total="300", receipt_number="R-2"), **htmx())
    assert 'data-testid="same-receipt"' not in other.content.decode()


def test_the_excluded_part_earns_nothing_and_cannot_be_paid_with_points(till, anna):
    response = till.post(reverse("cashier:calc", args=[anna.pk]),
                         sale(total="1000", excluded_total="400"), **htmx())
    calc = response.context["calc"]
    # cap: 30% of 600 = 180; cashback: 5% of (600 − 180) = 21
    assert (calc.points, calc.cash, calc.cashback) == (D("180.00"), D("820.00"), D("21.00"))


def test_with_redemption_by_phone_off_the_points_default_to_none(till, anna):
    program_set(redeem_by_phone=False)
    response = till.post(reverse("cashier:calc", args=[anna.pk]), sale(total="1000"), **htmx())
    assert response.context["calc"].points == D("0.00")
    refused = till.post(reverse("cashier:calc", args=[anna.pk]),
                        sale(total="1000", points="10", points_touched="1"), **htmx())
    assert "Redeeming by phone number is disabled" in refused.content.decode()


# --- Confirming the sale ------------------------------------------------------------------------

def test_confirming_a_sale_records_it_with_the_cashier_and_branch(till, anna, cashier, branch):
    response = till.post(reverse("cashier:sell", args=[anna.pk]),
                         sale(total="1000", receipt_number="A-17"), **htmx())
    operation = Operation.objects.get(kind="purchase")
    assert response.context["operation"] == operation
    assert (operation.points, operation.cash, operation.cashback) == (
        D("300.00"), D("700.00"), D("35.00"))
    assert operation.cashier == cashier and operation.branch == branch
    assert operation.cashier_name == "Olga" and operation.receipt_number == "A-17"
    assert spendable(anna) == D("335.00")
    page = response.content.decode()
    assert "Sale recorded" in page and 'id="search"' in page and 'hx-swap-oob="true"' in page


def test_a_double_click_or_a_retry_makes_one_sale(till, anna):
    first = till.post(reverse("cashier:sell", args=[anna.pk]), sale(total="1000"), **htmx())
    again = till.post(reverse("cashier:sell", args=[anna.pk]), sale(total="1000"), **htmx())
    assert Operation.objects.filter(kind="purchase").count() == 1
    assert again.context["operation"] == first.context["operation"]
    assert "This sale was already recorded" in again.content.decode()
    assert spendable(anna) == D("335.00")


def test_without_htmx_the_sale_redirects_to_its_receipt(till, anna):
    response = till.post(reverse("cashier:sell", args=[anna.pk]), sale(total="1000"))
    operation = Operation.objects.get(kind="purchase")
    assert response.url == reverse("cashier:till") + f"?receipt={operation.pk}"
    assert "Sale recorded" in till.get(response.url).content.decode()


def test_a_refused_sale_shows_the_reason_on_the_form_and_writes_nothing(till, anna):
    response = till.post(reverse("cashier:sell", args=[anna.pk]),
                         sale(total="500", points="300", points_touched="1"), **htmx())
    assert response.context["form"].errors["points"] == [
        "At most 150 points can be redeemed on this bill."]
    assert not Operation.objects.filter(kind="purchase").exists()


def test_a_blocked_customer_is_refused(till, anna):
    Customer.objects.filter(pk=anna.pk).update(is_blocked=True)
    # (blocked while his page was open at the till)
    response = till.post(reverse("cashier:sell", args=[anna.pk]), sale(total="1000"), **htmx())
    assert "The owner blocked this customer" in response.content.decode()
    assert not Operation.objects.filter(kind="purchase").exists()


def test_a_required_receipt_number_is_asked_for(till, anna):
    program_set(receipt_number_required=True)
    response = till.post(reverse("cashier:sell", args=[anna.pk]), sale(total="1000"), **htmx())
    assert "receipt_number" in response.context["form"].errors
    assert not Operation.objects.filter(kind="purchase").exists()


def test_the_calculation_shows_while_the_required_receipt_number_is_still_empty(till, anna):
    program_set(receipt_number_required=True)
    response = till.post(reverse("cashier:calc", args=[anna.pk]), sale(total="1000"), **htmx())
    assert response.context["calc"].cash == D("700.00")


# --- Registering --------------------------------------------------------------------------------

def test_registering_a_newcomer_credits_the_welcome_bonus(till, tiers):
    program_set(welcome_bonus=D(100))
    response = till.post(reverse("cashier:register"), {
        "phone": "8 912 000-11-22", "name": "Boris", "birthday": "1990-05-17",
        "consent_messages": "on"}, **htmx())
    boris = Customer.objects.get(phone="+79120001122")
    assert boris.is_registered and boris.name == "Boris" and boris.consent_messages
    assert str(boris.birthday) == "1990-05-17"
    assert spendable(boris) == D("100.00")
    assert "Boris is registered. Welcome bonus: 100 points." in response.content.decode()


@pytest.mark.parametrize("birthday,message", [
    ("2030-01-01", "A birthday cannot be in the future."),
    ("1800-01-01", "A birthday more than 120 years ago is a typo."),
])
def test_a_birthday_the_campaign_cannot_use_is_refused(till, tiers, birthday, message):
    response = till.post(reverse("cashier:register"), {
        "phone": "8 912 000-11-23", "name": "Boris", "birthday": birthday}, **htmx())
    assert message in response.content.decode()
    assert not Customer.objects.filter(phone="+79120001123").exists()


def test_the_register_form_in_russian_asks_for_a_persons_name(till, tiers):
    till.post("/i18n/setlang/", {"language": "ru", "next": "/till/"})
    page = till.get(reverse("cashier:register")).content.decode()
    assert "Имя" in page and "Название" not in page


def test_registering_keeps_points_got_by_phone_number(till, tiers, branch):
    program_set(welcome_bonus=D(100))
    customer = customer_create(phone="+79120001122")
    purchase_create(customer=customer, branch=branch, total=1000)  # 50 points, phone only
    till.post(reverse("cashier:register"), {"phone": "+79120001122", "name": "Boris"}, **htmx())
    assert spendable(customer) == D("150.00")


def test_registering_a_registered_phone_says_so_and_links_to_him(till, anna):
    response = till.post(reverse("cashier:register"), {"phone": "89001234567", "name": "X"},
                         **htmx())
    page = response.content.decode()
    assert "A customer with this phone number is already registered." in page
    assert reverse("cashier:customer", args=[anna.pk]) in page


def test_registering_an_invalid_phone_is_explained(till, tiers):
    response = till.post(reverse("cashier:register"), {"phone": "12345", "name": "X"}, **htmx())
    assert "This is not a valid phone number." in response.content.decode()


def test_registering_with_a_friends_phone_records_the_inviter(till, anna):
    from referrals.models import Referral

    response = till.post(reverse("cashier:register"), {
        "phone": "+79120001122", "name": "Boris", "invited_by": "8 (900) 123-45-67"}, **htmx())
    boris = Customer.objects.get(phone="+79120001122")
    assert Referral.objects.get(customer=boris).inviter == anna
    assert "Invited by a friend: recorded." in response.content.decode()


def test_an_unknown_friend_is_a_form_error_and_nobody_is_registered(till, anna):
    response = till.post(reverse("cashier:register"), {
        "phone": "+79120001122", "name": "Boris", "invited_by": "ZZZZZZ"}, **htmx())
    assert "invited_by" in response.context["form"].errors
    assert not Customer.objects.filter(phone="+79120001122").exists()


def test_inviting_oneself_is_refused_before_registering(till, tiers):
    response = till.post(reverse("cashier:register"), {
        "phone": "+79120001122", "name": "Boris", "invited_by": "89120001122"}, **htmx())
    assert "invited_by" in response.context["form"].errors
    assert not Customer.objects.filter(phone="+79120001122", joined_at__isnull=False).exists()


# --- The shift and refunds ----------------------------------------------------------------------

def test_the_shift_shows_my_operations_today_with_totals(till, anna, cashier, branch,
                                                         other_branch):
    mine = purchase_create(customer=anna, branch=branch, cashier=cashier, total=1000, points=100)
    colleague = cashier_make(username="ivan", branch=branch)
    purchase_create(customer=anna, branch=branch, cashier=colleague, total=500)
    old = purchase_create(customer=anna, branch=branch, cashier=cashier, total=300)
    Operation.objects.filter(pk=old.operation_id).update(
        created_at=timezone.now() - timezone.timedelta(days=2))
    response = till.get(reverse("cashier:shift"))
    assert [o.pk for o in response.context["operations"]] == [mine.operation_id]
    totals = response.context["totals"]
    assert (totals.sales, totals.sales_total, totals.points_redeemed) == (1, D(1000), D(100))


def test_a_refund_asks_first_then_refunds_part_of_the_sale(till, anna, cashier, branch):
    receipt = purchase_create(customer=anna, branch=branch, cashier=cashier, total=1000,
                              points=300)  # balance 600 − 300 + 35 = 335
    url = reverse("cashier:refund", args=[receipt.operation_id])
    asked = till.post(url, {"amount": "500", "request_id": "r1"}, **htmx())
    assert "Refund 500 of sale" in asked.content.decode()
    # half of the bill: 350 of the 700 paid in money, 150 of the 300 points, 17.50 of the cashback
    shares = asked.context["shares"]
    assert (shares.cash, shares.points, shares.cashback) == (D("350.00"), D("150.00"), D("17.50"))
    assert 'data-testid="refund-cash">350<' in asked.content.decode()
    assert not Operation.objects.filter(kind="refund").exists()
    done = till.post(url, {"amount": "500", "request_id": "r1", "confirm": "1"}, **htmx())
    again = till.post(url, {"amount": "500", "request_id": "r1", "confirm": "1"}, **htmx())
    assert Operation.objects.filter(kind="refund").count() == 1
    assert ("give back 350 in money; 150 points returned, 17.50 points of cashback taken back"
            in done.content.decode())
    assert again.status_code == 200
    assert spendable(anna) == D("467.50")  # 335 + 150 − 17.50
    assert done.context["operation"].refunded_total == D("500.00")


def test_an_empty_amount_refunds_the_rest_and_marks_the_sale_refunded(till, anna, cashier,
                                                                       branch):
    receipt = purchase_create(customer=anna, branch=branch, cashier=cashier, total=1000)
    url = reverse("cashier:refund", args=[receipt.operation_id])
    till.post(url, {"amount": "", "request_id": "r1", "confirm": "1"}, **htmx())
    sale_op = Operation.objects.get(pk=receipt.operation_id)
    assert sale_op.state == "CANCELED"
    page = till.get(reverse("cashier:operation", args=[sale_op.pk])).content.decode()
    assert "refunded" in page and "Refund…" not in page


def test_refunding_more_than_is_left_is_explained(till, anna, cashier, branch):
    receipt = purchase_create(customer=anna, branch=branch, cashier=cashier, total=1000)
    response = till.post(reverse("cashier:refund", args=[receipt.operation_id]),
                         {"amount": "1500", "request_id": "r1", "confirm": "1"}, **htmx())
    assert "At most 1,000 can be refunded on this sale." in response.content.decode()
    assert not Operation.objects.filter(kind="refund").exists()


def test_refusals_speak_russian_in_the_russian_interface(till, anna):
    # given a cashier who switched the till to Russian
    till.post("/i18n/setlang/", {"language": "ru", "next": "/till/"})
    # when he asks for too many points
    response = till.post(reverse("cashier:calc", args=[anna.pk]),
                         sale(total="500", points="300", points_touched="1"), **htmx())
    # then the refusal is in Russian, with the amount written the Russian way
    assert "С этого чека можно списать не больше 150 баллов." in response.content.decode()
    page = till.get(reverse("cashier:customer", args=[anna.pk])).content.decode()
    assert "Провести продажу" in page and "Сумма чека" in page


def test_with_an_accrual_delay_the_receipt_says_the_cashback_is_pending(till, anna):
    program_set(accrual_delay_days=14)
    response = till.post(reverse("cashier:sell", args=[anna.pk]), sale(total="1000"), **htmx())
    assert "Cashback credited (pending)" in response.content.decode()
    panel = till.get(reverse("cashier:customer", args=[anna.pk]))
    assert panel.context["customer"].pending == D("35.00")
