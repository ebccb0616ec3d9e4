from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from loyalty.exceptions import ProgramFileError
from loyalty.models import Customer
from loyalty.program import program_dump, program_load
from loyalty.services import purchase_create
from referrals.exceptions import (
    AlreadyCustomer,
    AlreadyInvited,
    InviteCycle,
    InviterFixed,
    InviterNotFound,
    SelfInvite,
)
from referrals.models import Referral, ReferralAncestor
from referrals.services import (
    referral_code_get,
    referral_inviter_set,
    referral_link,
    referral_program_get,
    referral_program_set,
)
from tests.factories import customer_create

from .conftest import chain, invited

pytestmark = pytest.mark.django_db


def ancestors(customer):
    return list(ReferralAncestor.objects.filter(descendant=customer).order_by("depth")
                .values_list("ancestor_id", "depth"))


def test_inviter_may_be_named_by_any_spelling_of_his_phone(tiers):
    anna = invited()
    boris = invited()
    local = "8 " + anna.phone[2:5] + " " + anna.phone[5:]  # +7916... → 8 916 ...
    referral = referral_link(customer=boris, inviter=local)
    assert referral.inviter_id == anna.pk


def test_inviter_may_be_named_by_his_referral_code_in_any_case(tiers):
    anna, boris = invited(), invited()
    code = referral_code_get(customer=anna)
    assert len(code) == 6 and referral_code_get(customer=anna) == code  # made once, then kept
    assert referral_link(customer=boris, inviter=f" {code.lower()} ").inviter_id == anna.pk


def test_linking_the_same_inviter_twice_is_harmless_another_is_refused(tiers):
    anna, boris, clara = invited(), invited(), invited()
    referral_link(customer=clara, inviter=anna.phone)
    assert referral_link(customer=clara, inviter=anna.phone).inviter_id == anna.pk
    with pytest.raises(AlreadyInvited) as err:
        referral_link(customer=clara, inviter=boris.phone)
    assert err.value.code == "alreadyInvited"


def test_unknown_inviter_is_refused(tiers):
    with pytest.raises(InviterNotFound) as err:
        referral_link(customer=invited(), inviter="ZZZZZZ")
    assert err.value.code == "inviterNotFound"
    with pytest.raises(InviterNotFound):
        referral_link(customer=invited(), inviter="+7 999 000-00-00")


def test_self_invite_is_refused(tiers):
    anna = invited()
    with pytest.raises(SelfInvite) as err:
        referral_link(customer=anna, inviter=referral_code_get(customer=anna))
    assert err.value.code == "selfInvite"
    assert not Referral.objects.exists()


def test_inviting_ones_own_inviter_up_the_tree_is_a_cycle(tiers):
    # Anna invited Boris who invited Clara; Anna has no inviter yet (she is new too)
    anna, boris, clara = chain(3)
    with pytest.raises(InviteCycle) as err:
        referral_link(customer=anna, inviter=clara.phone)
    assert err.value.code == "inviteCycle"


def test_a_customer_who_already_bought_cannot_be_invited(tiers, branch):
    anna, boris = invited(), invited()
    purchase_create(customer=boris, branch=branch, total=100)
    with pytest.raises(AlreadyCustomer) as err:
        referral_link(customer=boris, inviter=anna.phone)
    assert err.value.code == "alreadyCustomer"


def test_a_customer_registered_long_before_cannot_be_invited(tiers):
    anna, boris = invited(), invited()
    Customer.objects.filter(pk=boris.pk).update(joined_at=timezone.now() - timedelta(days=3))
    with pytest.raises(AlreadyCustomer):
        referral_link(customer=boris, inviter=anna.phone)


def test_closure_rows_name_every_ancestor_with_its_generation(tiers):
    anna, boris, clara, denis = chain(4)
    assert ancestors(denis) == [(clara.pk, 1), (boris.pk, 2), (anna.pk, 3)]
    assert ancestors(anna) == []


def test_owner_moves_a_friend_with_his_invitees_before_the_first_purchase(tiers):
    # given Anna ← Boris ← Clara and a separate Xenia; Boris has not bought yet
    anna, boris, clara = chain(3)
    xenia = invited()
    # when the owner corrects Boris's inviter to Xenia
    referral_inviter_set(customer=boris, inviter=xenia)
    # then Boris's invitee moves with him
    assert ancestors(boris) == [(xenia.pk, 1)]
    assert ancestors(clara) == [(boris.pk, 1), (xenia.pk, 2)]
    # and removing the inviter cuts the subtree loose
    referral_inviter_set(customer=boris, inviter=None)
    assert ancestors(clara) == [(boris.pk, 1)]
    assert not Referral.objects.filter(customer=boris).exists()
    # and joining an existing phone-only customer as root of a subtree works too
    referral_inviter_set(customer=anna, inviter=customer_create())
    with pytest.raises(InviteCycle):
        referral_inviter_set(customer=boris, inviter=clara)


def test_inviter_is_fixed_from_the_friends_first_purchase(tiers, branch):
    anna, boris = chain(2)
    purchase_create(customer=boris, branch=branch, total=100)
    with pytest.raises(InviterFixed) as err:
        referral_inviter_set(customer=boris, inviter=invited())
    assert err.value.code == "inviterFixed"


def test_a_link_that_rewards_were_paid_along_is_fixed_even_if_its_friend_never_bought(
    sakura, branch
):
    # given Anna ← Boris ← Clara; Boris never bought, Clara did (Boris was paid for it)
    anna, boris, clara = chain(3)
    purchase_create(customer=clara, branch=branch, total=100)
    # when the owner tries to move or cut Boris, then it is refused: the levels of paid rewards
    # are read from the tree
    with pytest.raises(InviterFixed):
        referral_inviter_set(customer=boris, inviter=invited())
    with pytest.raises(InviterFixed):
        referral_inviter_set(customer=boris, inviter=None)
    # but a root whose invitee bought may still be given an inviter (paid levels stay as they are)
    referral_inviter_set(customer=anna, inviter=invited())
    assert ancestors(clara)[:2] == [(boris.pk, 1), (anna.pk, 2)]


def test_program_settings_round_trip_through_the_program_file(tiers):
    program_load("business: {name: Test}\nreferral: {first_purchase_bonus: 25.5,"
                 " levels_percent: [4, 2.5, 0, 1],"
                 " tier_invites: {Silver: 3}}")
    assert referral_program_get().levels_percent == [D(4), D("2.5"), D(0), D(1)]
    dumped = program_dump()
    assert "levels_percent:\n  - 4\n  - 2.5\n  - 0\n  - 1" in dumped
    report = program_load(dumped)
    assert report.warnings == []
    assert referral_program_get().tier_invites == {"Silver": 3}


@pytest.mark.parametrize("section, path", [
    ("{bonus: 5}", "referral.bonus"),
    ("{levels_percent: [5, 101]}", "referral.levels_percent[1]"),
    ("{levels_percent: 5}", "referral.levels_percent"),
    ("{first_purchase_bonus: -1}", "referral.first_purchase_bonus"),
    ("{tier_invites: {Silver: 0}}", "referral.tier_invites.Silver"),
    ("{tier_invites: {Platinum: 2}}", "referral.tier_invites.Platinum"),
])
def test_a_wrong_referral_section_is_refused_by_its_path_and_changes_nothing(tiers, section, path):
    referral_program_set(first_purchase_bonus=D(7), levels_percent=[D(1)])
    with pytest.raises(ProgramFileError) as err:
        program_load(f"referral: {section}")
    assert path in str(err.value)
    assert referral_program_get().first_purchase_bonus == D(7)
