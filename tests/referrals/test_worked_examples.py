"""The case studies' referral programs replayed as stories with exact numbers.

Sakura: 50 points on a friend's first purchase plus 5% of each of his purchases (one level).
Elita: 50 points once, then 3%, 1%, 1% over three circles of friends. Both from presets/*.yaml.
"""

from decimal import Decimal as D

import pytest

from loyalty.ledger_check import ledger_verify
from loyalty.selectors import customer_balances
from loyalty.services import purchase_create, purchase_refund
from referrals.selectors import sale_referral_rewards
from referrals.services import referral_code_get

from .conftest import chain, invited

pytestmark = pytest.mark.django_db


def balance(customer):
    return customer_balances(customer=customer)["available"]


def rewards_of(receipt):
    """(customer id, level, points) the sale paid up the chain, read back from the ledger."""
    return sale_referral_rewards(operation_id=receipt.operation_id)


def test_sakura_chain_of_four_pays_the_inviter_only_and_a_refund_takes_it_back(sakura, branch):
    # given the Sakura preset and a chain Anna ← Boris ← Clara ← Denis (each invited the next)
    anna, boris, clara, denis = chain(4)
    assert balance(anna) == D("100.00")  # the welcome bonus

    # when Anna buys, nobody above her earns anything
    sale_a = purchase_create(customer=anna, branch=branch, total="1000.00")
    assert rewards_of(sale_a) == []

    # when Boris makes his first purchase of 2 000, Anna gets 50 + 5% of 2 000 = 150
    before = balance(anna)
    sale_b = purchase_create(customer=boris, branch=branch, total="2000.00")
    assert rewards_of(sale_b) == [(anna.pk, 1, D("150.00"))]
    assert balance(anna) - before == D("150.00")

    # when Clara pays 1 500 with 100 points, Boris gets 50 + 5% of the 1 400 cash part = 120;
    # Sakura pays one level only, so Anna gets nothing
    sale_c = purchase_create(customer=clara, branch=branch, total="1500.00", points="100.00")
    assert rewards_of(sale_c) == [(boris.pk, 1, D("120.00"))]

    # when Denis buys twice, Clara gets 50 + 5% of 999.99 (49.9995 → 50.00) and then 5% of
    # 333.33 (16.6665 → 16.67, half-up); the bonus only once
    sale_d1 = purchase_create(customer=denis, branch=branch, total="999.99")
    sale_d2 = purchase_create(customer=denis, branch=branch, total="333.33")
    assert rewards_of(sale_d1) == [(clara.pk, 1, D("100.00"))]
    assert rewards_of(sale_d2) == [(clara.pk, 1, D("16.67"))]

    # then refunds take the rewards back in proportion, up the same chain
    clara_before, boris_before = balance(clara), balance(boris)
    purchase_refund(operation_id=sale_d2.operation_id)
    assert clara_before - balance(clara) == D("16.67")
    purchase_refund(operation_id=sale_c.operation_id, amount="700.00")  # 120 × 700/1500 = 56
    assert boris_before - balance(boris) == D("56.00")
    purchase_refund(operation_id=sale_c.operation_id)  # the other 64
    assert boris_before - balance(boris) == D("120.00")
    assert ledger_verify().ok


def test_elita_three_circles_pay_three_one_one_and_a_refund_undoes_them(elita, branch):
    # given the Elita preset (receipts required, 5% cap on BASIC) and Anna ← Boris ← Clara ← Denis,
    # Clara invited by Boris's referral code rather than his phone
    anna = invited()
    boris = invited(anna)
    clara = invited()
    from referrals.services import referral_link

    referral_link(customer=clara, inviter=referral_code_get(customer=boris).lower())
    denis = invited(clara)

    def buy(customer, n, **bill):
        return purchase_create(customer=customer, branch=branch, receipt_number=f"R{n}", **bill)

    # when Anna, the root, buys: no rewards
    assert rewards_of(buy(anna, 1, total="5000.00")) == []
    # when Boris makes his first purchase: Anna 50 + 3% of 3 000
    assert rewards_of(buy(boris, 2, total="3000.00")) == [(anna.pk, 1, D("140.00"))]
    # when Clara buys an average bill of 7 689: Boris 50 + 3% = 280.67, Anna 1% = 76.89
    sale_c = buy(clara, 3, total="7689.00")
    assert rewards_of(sale_c) == [(boris.pk, 1, D("280.67")), (anna.pk, 2, D("76.89"))]
    # when Denis buys 10 000 of which 2 000 discounted goods and pays 100 with points, the base is
    # 10 000 − 2 000 − 100 = 7 900: Clara 50 + 237, Boris 79, Anna 79
    before = {c.pk: balance(c) for c in (anna, boris, clara)}
    sale_d = buy(denis, 4, total="10000.00", excluded_total="2000.00", points="100.00")
    assert rewards_of(sale_d) == [
        (clara.pk, 1, D("287.00")), (boris.pk, 2, D("79.00")), (anna.pk, 3, D("79.00")),
    ]
    assert {c.pk: balance(c) - before[c.pk] for c in (anna, boris, clara)} == {
        anna.pk: D("79.00"), boris.pk: D("79.00"), clara.pk: D("287.00"),
    }
    # and a fifth generation pays only three circles up: Eva's purchase skips Anna
    eva = invited(denis)
    sale_e = buy(eva, 5, total="1000.00")
    assert rewards_of(sale_e) == [
        (denis.pk, 1, D("80.00")), (clara.pk, 2, D("10.00")), (boris.pk, 3, D("10.00")),
    ]

    # then refunding Denis's sale undoes its three rewards exactly
    before = {c.pk: balance(c) for c in (anna, boris, clara)}
    purchase_refund(operation_id=sale_d.operation_id)
    assert {c.pk: before[c.pk] - balance(c) for c in (anna, boris, clara)} == {
        anna.pk: D("79.00"), boris.pk: D("79.00"), clara.pk: D("287.00"),
    }
    # and a partial refund of Clara's takes back 1000/7689 of each: 36.50 and 10.00
    boris_before, anna_before = balance(boris), balance(anna)
    purchase_refund(operation_id=sale_c.operation_id, amount="1000.00")
    assert boris_before - balance(boris) == D("36.50")
    assert anna_before - balance(anna) == D("10.00")
    assert ledger_verify().ok


def test_presets_load_the_referral_section_without_warnings(sakura, elita):
    # elita was loaded last
    from referrals.services import referral_program_get

    assert not [w for w in sakura.warnings if w.startswith("referral")]
    assert not [w for w in elita.warnings if w.startswith("referral")]
    current = referral_program_get()
    assert current.first_purchase_bonus == D("50.00")
    assert current.levels_percent == [D("3.00"), D("1.00"), D("1.00")]


def test_what_a_certificate_paid_earns_the_inviter_nothing_as_it_earns_no_cashback(sakura, branch):
    from tests.campaigns.factories import certificate_make

    # given Sakura's program (5% to the inviter) and Boris, invited by Anna, after his first sale
    anna, boris = chain(2)
    purchase_create(customer=boris, branch=branch, total="100.00")
    gift = certificate_make(points=150, customer=boris)
    before = balance(anna)
    # when Boris pays 1 000 with his 150-point certificate and no points of his own
    sale = purchase_create(customer=boris, branch=branch, total="1000.00", points="0",
                           certificate_code=gift.code)
    # then the base is the 850 paid in money, for his cashback and for Anna's 5% alike
    assert rewards_of(sale) == [(anna.pk, 1, D("42.50"))]
    assert balance(anna) - before == D("42.50")
    assert ledger_verify().ok
