import pytest

from bots.tests.factories import BotFactory
from groups.tests.factories import GroupFactory


@pytest.fixture
def bot(tenant):
    return BotFactory(tenant=tenant, group=GroupFactory(tenant=tenant, groupme_group_id="1001"), name="Helper")
