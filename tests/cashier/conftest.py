import pytest
from django.contrib.auth.models import Group

from loyalty.roles import CASHIER, roles_ensure
from tests.factories import BranchFactory, StaffMemberFactory, UserFactory

PASSWORD = "pass12345"


def cashier_make(*, username: str, branch, first_name: str = ""):
    """A cashier as the owner sets one up: no admin access, in the Cashier group, bound to a branch."""
    roles_ensure()
    user = UserFactory(username=username, is_staff=False, first_name=first_name)
    user.groups.add(Group.objects.get(name=CASHIER))
    StaffMemberFactory(user=user, branch=branch)
    return user


@pytest.fixture
def cashier(branch):
    return cashier_make(username="olga", branch=branch, first_name="Olga")


@pytest.fixture
def other_branch(db):
    return BranchFactory(name="Seaside")


@pytest.fixture
def till(client, cashier):
    """A test client logged in as the branch's cashier."""
    client.force_login(cashier)
    return client


def htmx(**extra):
    return {"HTTP_HX_REQUEST": "true", **extra}
