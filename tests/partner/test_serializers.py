"""The sale's body read by hand (``serializers.create_operation_in``) is the serializer's reading.

For any body the hand reader accepts, ``CreateOperationIn`` must accept it too and return the same
``validated_data``; any other body goes to the serializer (so its errors are the serializer's).
"""

import json

from hypothesis import example, given, settings
from hypothesis import strategies as st

from partner import serializers
from partner.serializers import CreateOperationIn, _create_operation_fast, _Unsure

TEXTS = st.one_of(
    st.none(), st.text(max_size=5), st.text(max_size=300),
    st.sampled_from(["", " ", " a ", "\x00", "\ud800", "x" * 32, "x" * 33, "x" * 64, "x" * 65,
                     "+79160000001", "\u3000a\u2003"]),
    st.integers(), st.floats(allow_nan=False), st.booleans(), st.lists(st.integers(), max_size=2),
)
AMOUNTS = st.one_of(
    st.none(), st.integers(min_value=-10, max_value=10**12), st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.decimals(allow_nan=False, allow_infinity=False, places=4).map(str),
    st.sampled_from(["", " 12.345 ", "1e3", "abc", "100000000000.01", "-0.001", "0.004"]),
)


def optional(strategy):
    return st.one_of(st.just(...), strategy)  # ... = leave the key out


def body_of(**fields):
    return st.fixed_dictionaries({}, optional={k: v for k, v in fields.items()}).map(
        lambda d: {k: v for k, v in d.items() if v is not ...})


PARTICIPANT = st.one_of(st.none(), st.integers(), body_of(uid=TEXTS, phone=TEXTS))
CASHIER = st.one_of(st.none(), st.text(max_size=3),
                    body_of(externalId=TEXTS, extrnalId=TEXTS, name=TEXTS, other=TEXTS))
RECEIPT = st.one_of(
    st.none(), st.lists(st.integers(), max_size=2),
    body_of(total=AMOUNTS, cash=AMOUNTS, points=AMOUNTS, number=TEXTS, skipLoyaltyTotal=AMOUNTS,
            unredeemableTotal=AMOUNTS),
)
TAGS = st.one_of(st.none(), st.text(max_size=3), st.lists(st.one_of(
    st.integers(min_value=-2, max_value=2**63 + 1), st.booleans(), st.text(max_size=2),
    st.floats(allow_nan=False, allow_infinity=False)), max_size=102))
# Mostly plausible bodies (the hand reader's ground), now and then one odd value.
GOOD_TEXTS = st.one_of(st.none(), st.text(max_size=40), TEXTS)
GOOD_AMOUNTS = st.one_of(
    st.integers(min_value=0, max_value=10**6),
    st.decimals(min_value=0, max_value=10**6, places=3).map(str),
    st.floats(min_value=0, max_value=10**6), AMOUNTS,
)
NEAR_VALID = body_of(
    code=GOOD_TEXTS, nonce=GOOD_TEXTS,
    participant=st.one_of(st.none(), body_of(uid=GOOD_TEXTS, phone=GOOD_TEXTS), PARTICIPANT),
    cashier=st.one_of(st.none(), body_of(externalId=GOOD_TEXTS, extrnalId=GOOD_TEXTS,
                                         name=GOOD_TEXTS), CASHIER),
    tags=st.one_of(st.none(), st.lists(st.integers(min_value=1, max_value=10**6), max_size=5),
                   TAGS),
).flatmap(lambda d: st.fixed_dictionaries({
    "receipt": st.one_of(
        st.fixed_dictionaries({"total": GOOD_AMOUNTS, "cash": GOOD_AMOUNTS,
                               "points": GOOD_AMOUNTS},
                              optional={"number": GOOD_TEXTS, "skipLoyaltyTotal": GOOD_AMOUNTS,
                                        "unredeemableTotal": GOOD_AMOUNTS}),
        RECEIPT)}).map(lambda r: {**d, **r}))
BODIES = st.one_of(
    NEAR_VALID,
    body_of(code=TEXTS, nonce=TEXTS, participant=PARTICIPANT, cashier=CASHIER, receipt=RECEIPT,
            tags=TAGS),
    st.lists(st.integers(), max_size=2), st.text(max_size=3),
)


def plain(value):
    return json.loads(json.dumps(value, default=str))


def sale_with(**fields):
    receipt = {"total": 10, "cash": 10, "points": 0, **fields.pop("receipt", {})}
    return {"receipt": receipt, **fields}


@settings(max_examples=1500, deadline=None)
@given(BODIES)
@example(sale_with(tags=list(range(1, 101))))
@example(sale_with(tags=list(range(1, 102))))
@example(sale_with(tags=[2**63 - 1]))
@example(sale_with(tags=[2**63]))
@example(sale_with(tags=[]))
@example(sale_with(code=" " + "x" * 64 + " ", nonce="n" * 255))
@example(sale_with(code="x" * 65))
@example(sale_with(nonce="n" * 256))
@example(sale_with(participant={"phone": "7" * 32, "uid": " "}))
@example(sale_with(participant={"phone": "7" * 33}))
@example(sale_with(cashier={"externalId": "e" * 100, "name": "n" * 200}))
@example(sale_with(cashier={"extrnalId": "e" * 101}))
@example(sale_with(cashier={"name": "n" * 201}))
@example(sale_with(cashier={"externalId": "", "extrnalId": " 7 "}))
@example(sale_with(receipt={"number": "r" * 100}))
@example(sale_with(receipt={"number": "r" * 101}))
@example(sale_with(receipt={"total": "100000000000", "cash": "100000000000.004"}))
@example(sale_with(receipt={"total": "100000000000.01"}))
@example(sale_with(receipt={"points": "-0.001", "cash": "0.005"}))
@example(sale_with(receipt={"points": "-0.01"}))
@example(sale_with(receipt={"skipLoyaltyTotal": "-0.01"}))
def test_whatever_the_hand_reader_accepts_the_serializer_reads_alike(body):
    try:
        fast = _create_operation_fast(body)
    except _Unsure:
        return
    serializer = CreateOperationIn(data=body)
    assert serializer.is_valid(), (body, serializer.errors)
    assert plain(fast) == plain(serializer.validated_data)
    assert fast == serializer.validated_data  # same types too (Decimal, str, int, None)


def test_the_bodies_integrations_send_are_read_by_hand():
    for body in [
        {"nonce": "n-1", "participant": {"phone": "+79160000001"},
         "cashier": {"externalId": "till-1", "name": "Ann"},
         "receipt": {"total": 1000, "cash": 900.5, "points": "99.999", "number": "12"}},
        {"code": "ABC", "receipt": {"total": "10", "cash": 10, "points": 0,
                                    "skipLoyaltyTotal": None, "unredeemableTotal": 1.005},
         "tags": [1, 2], "cashier": {"extrnalId": "7"}},
        {"participant": {"uid": "0b7d..."}, "receipt": {"total": 5, "cash": 5, "points": 0},
         "cashier": None, "tags": None, "nonce": None},
    ]:
        fast = _create_operation_fast(body)
        serializer = CreateOperationIn(data=body)
        assert serializer.is_valid()
        assert fast == serializer.validated_data


def test_a_body_the_hand_reader_is_unsure_of_gets_the_serializers_errors():
    import pytest
    from rest_framework.exceptions import ValidationError

    body = {"participant": {"phone": 7}, "receipt": {"total": 5, "cash": True, "points": 0},
            "tags": [0]}
    with pytest.raises(ValidationError) as caught:
        serializers.create_operation_in(body)
    serializer = CreateOperationIn(data=body)
    assert not serializer.is_valid()
    assert caught.value.detail == serializer.errors
