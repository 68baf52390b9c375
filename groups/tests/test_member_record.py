"""The sender of a user message is recorded once, counted once per message, also when two messages race."""

import threading

import pytest
from django.db import connection, transaction

from bots.tests.factories import BotFactory
from groups.models import Group, Member
from groups.services import member_record_message
from groups.tests.factories import GroupFactory, MessageFactory


@pytest.mark.django_db(transaction=True)
def test_two_first_messages_of_a_new_sender_at_once_make_one_member_counted_twice(tenant):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (SQLite serializes every writer anyway)")
    bot = BotFactory(tenant=tenant, group=GroupFactory(tenant=tenant))
    messages = [
        MessageFactory(tenant=tenant, group=bot.group, bot=bot, member=None, sender_id="77", sender_name="Ana")
        for _ in range(2)
    ]
    holding, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def record(message, *, hold):
        try:
            with transaction.atomic():  # as in message processing
                member_record_message(message=message)
                if hold:
                    holding.set()
                    release.wait(20)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    first = threading.Thread(target=record, args=(messages[0],), kwargs={"hold": True})
    first.start()
    assert holding.wait(20)
    second = threading.Thread(target=record, args=(messages[1],), kwargs={"hold": False})
    second.start()
    second.join(0.5)  # it waits on the first one's new row (the unique key), not past it
    assert second.is_alive()
    release.set()
    first.join(20)
    second.join(20)

    assert errors == []
    member = Member.objects.get(group=bot.group, groupme_user_id="77")
    assert member.message_count == 2
    assert Group.objects.get(pk=bot.group_id).member_count == 1
