"""The Team page (members, roles, invitations) and the public page that accepts an invitation."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user
from django.utils import timezone

from tenants.models import Invitation, Membership, Role, User
from tenants.tests.factories import InvitationFactory, MembershipFactory, UserFactory
from tenants.url_tokens import url_token_hash

pytestmark = pytest.mark.django_db

LINK = re.compile(r"http://\S+/invitations/([A-Za-z0-9_-]+)/")


def _url(tenant, suffix=""):
    return f"/t/{tenant.slug}/team/{suffix}"


def _member(tenant, role, email=None):
    return MembershipFactory(tenant=tenant, role=role, **({"user": UserFactory(email=email)} if email else {}))


def _login(client, membership):
    client.force_login(membership.user)
    return client


def _token_from(mail):
    match = LINK.search(mail.body)
    assert match, mail.body
    return match.group(1)


# --- The page ---------------------------------------------------------------------------------------------------------


def test_the_team_page_lists_members_with_roles_and_pending_invitations(client, tenant, other_tenant):
    owner = _member(tenant, Role.OWNER, "olga@example.com")
    _member(tenant, Role.ANALYST, "anna@example.com")
    InvitationFactory(tenant=tenant, email="ivan@example.com", role=Role.ADMIN, invited_by=owner.user)
    InvitationFactory(tenant=tenant, email="gone@example.com", status=Invitation.Status.CANCELLED)
    _member(other_tenant, Role.OWNER, "theirs@example.com")
    InvitationFactory(tenant=other_tenant, email="their-invitee@example.com")

    page = _login(client, owner).get(_url(tenant)).content.decode()

    assert "olga@example.com" in page
    assert "anna@example.com" in page
    assert "ivan@example.com" in page
    assert "gone@example.com" not in page
    assert "theirs@example.com" not in page
    assert "their-invitee@example.com" not in page
    assert page.index("olga@example.com") < page.index("anna@example.com")  # owners first


def test_an_expired_invitation_is_marked_so_it_can_be_resent(owner_client, tenant):
    InvitationFactory(tenant=tenant, email="late@example.com", expires_at=timezone.now() - timedelta(hours=1))

    page = owner_client.get(_url(tenant)).content.decode()

    assert "late@example.com" in page
    assert "expired" in page


def test_analysts_see_the_team_without_any_control(client, tenant):
    _member(tenant, Role.OWNER, "olga@example.com")
    InvitationFactory(tenant=tenant, email="ivan@example.com")

    page = _login(client, _member(tenant, Role.ANALYST)).get(_url(tenant)).content.decode()

    assert "olga@example.com" in page
    assert "ivan@example.com" in page
    for control in ("/role/", "/remove/", "/resend/", "/cancel/", "Send invitation"):
        assert control not in page


def test_admins_get_no_controls_on_owners(client, tenant):
    owner = _member(tenant, Role.OWNER, "olga@example.com")
    analyst = _member(tenant, Role.ANALYST, "anna@example.com")

    page = _login(client, _member(tenant, Role.ADMIN)).get(_url(tenant)).content.decode()

    assert f"/members/{owner.pk}/" not in page
    assert f"/members/{analyst.pk}/remove/" in page
    assert '<option value="owner"' not in page  # neither to invite nor to promote


@pytest.mark.parametrize("rows", [3, 30])
def test_the_team_page_answers_in_a_bounded_number_of_queries(client, tenant, rows, django_assert_max_num_queries):
    owner = _member(tenant, Role.OWNER)
    for _ in range(rows):
        _member(tenant, Role.ANALYST)
        InvitationFactory(tenant=tenant, invited_by=owner.user)
    _login(client, owner)

    # session, user, membership, switcher memberships, member count, members page, pending invitations
    with django_assert_max_num_queries(7):
        response = client.get(_url(tenant))
    assert response.status_code == 200


# --- Inviting ---------------------------------------------------------------------------------------------------------


def test_inviting_sends_a_one_week_link_and_stores_only_its_hash(owner_client, tenant, mailoutbox):
    response = owner_client.post(_url(tenant, "invitations/"), {"email": "New.Person@Example.com", "role": "admin"})

    assert response.status_code == 302
    invitation = Invitation.objects.get()
    assert (invitation.email, invitation.role, invitation.status) == ("new.person@example.com", "admin", "pending")
    assert invitation.invited_by.email == "alice@example.com"
    assert timedelta(days=6, hours=23) < invitation.expires_at - timezone.now() <= timedelta(days=7)
    [mail] = mailoutbox
    assert mail.to == ["new.person@example.com"]
    assert tenant.name in mail.subject
    assert "alice@example.com invited you to join Alice's Anglers on Botyard as admin." in mail.body
    token = _token_from(mail)
    assert f"/invitations/{token}/" in mail.body
    assert invitation.token_hash == url_token_hash(token)
    assert token not in str(Invitation.objects.values_list().get())
    assert "Invitation sent to new.person@example.com" in owner_client.get(response.url).content.decode()


def test_an_address_with_a_pending_invitation_is_not_invited_twice(owner_client, tenant, mailoutbox):
    InvitationFactory(tenant=tenant, email="ivan@example.com")

    response = owner_client.post(_url(tenant, "invitations/"), {"email": "ivan@example.com", "role": "analyst"})

    assert response.status_code == 400
    assert "already has a pending invitation" in response.content.decode()
    assert Invitation.objects.count() == 1
    assert mailoutbox == []


def test_an_expired_invitation_is_replaced_by_a_new_one(owner_client, tenant, mailoutbox):
    old = InvitationFactory(tenant=tenant, email="ivan@example.com", expires_at=timezone.now() - timedelta(days=1))

    response = owner_client.post(_url(tenant, "invitations/"), {"email": "ivan@example.com", "role": "analyst"})

    assert response.status_code == 302
    old.refresh_from_db()
    assert old.status == Invitation.Status.EXPIRED
    assert Invitation.objects.filter(status="pending", email="ivan@example.com").count() == 1
    assert len(mailoutbox) == 1


def test_a_member_is_not_invited_again(owner_client, tenant, mailoutbox):
    _member(tenant, Role.ANALYST, "anna@example.com")

    response = owner_client.post(_url(tenant, "invitations/"), {"email": "ANNA@example.com", "role": "admin"})

    assert response.status_code == 400
    assert "anna@example.com is already on this team." in response.content.decode()
    assert not Invitation.objects.exists()
    assert mailoutbox == []


@pytest.mark.parametrize(
    "data", [{"email": "not-an-address", "role": "analyst"}, {"email": "x@example.com", "role": "boss"}]
)
def test_bad_invitation_input_is_refused_with_nothing_sent(owner_client, tenant, mailoutbox, data):
    response = owner_client.post(_url(tenant, "invitations/"), data)

    assert response.status_code == 400
    assert 'class="errorlist"' in response.content.decode()
    assert not Invitation.objects.exists()
    assert mailoutbox == []


def test_admins_invite_admins_and_analysts_but_not_owners(client, tenant, mailoutbox):
    admin = _login(client, _member(tenant, Role.ADMIN))

    assert admin.post(_url(tenant, "invitations/"), {"email": "a@example.com", "role": "admin"}).status_code == 302
    assert admin.post(_url(tenant, "invitations/"), {"email": "b@example.com", "role": "analyst"}).status_code == 302
    assert admin.post(_url(tenant, "invitations/"), {"email": "c@example.com", "role": "owner"}).status_code == 403
    assert sorted(Invitation.objects.values_list("email", flat=True)) == ["a@example.com", "b@example.com"]
    assert len(mailoutbox) == 2


def test_analysts_cannot_invite(client, tenant, mailoutbox):
    analyst = _login(client, _member(tenant, Role.ANALYST))

    assert analyst.post(_url(tenant, "invitations/"), {"email": "a@example.com", "role": "analyst"}).status_code == 403
    assert not Invitation.objects.exists()
    assert mailoutbox == []


def test_an_undeliverable_invitation_leaves_nothing_behind(owner_client, tenant, monkeypatch):
    def refuse(**kwargs):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr("tenants.services.send_mail", refuse)

    response = owner_client.post(_url(tenant, "invitations/"), {"email": "ivan@example.com", "role": "analyst"})

    assert response.status_code == 400
    assert "could not be sent" in response.content.decode()
    assert not Invitation.objects.exists()


# --- Resend and cancel ------------------------------------------------------------------------------------------------


def test_resending_mails_a_new_link_and_the_old_one_stops_working(owner_client, client, tenant, mailoutbox):
    invitation = InvitationFactory(
        tenant=tenant, email="ivan@example.com", expires_at=timezone.now() + timedelta(days=1)
    )
    old_token = invitation.token

    response = owner_client.post(_url(tenant, f"invitations/{invitation.pk}/resend/"))

    assert response.status_code == 302
    [mail] = mailoutbox
    new_token = _token_from(mail)
    assert new_token != old_token
    invitation.refresh_from_db()
    assert invitation.expires_at - timezone.now() > timedelta(days=6)
    client.logout()
    assert client.get(f"/invitations/{old_token}/").status_code == 404
    assert client.get(f"/invitations/{new_token}/").status_code == 200


def test_cancelling_makes_the_link_say_so(owner_client, client, tenant):
    invitation = InvitationFactory(tenant=tenant, email="ivan@example.com")

    assert owner_client.post(_url(tenant, f"invitations/{invitation.pk}/cancel/")).status_code == 302

    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.CANCELLED
    client.logout()
    response = client.get(f"/invitations/{invitation.token}/")
    assert response.status_code == 410
    assert "This invitation was cancelled." in response.content.decode()
    assert "ivan@example.com" not in owner_client.get(_url(tenant)).content.decode()


def test_an_accepted_invitation_cannot_be_resent_or_cancelled(owner_client, tenant, mailoutbox):
    invitation = InvitationFactory(tenant=tenant, status=Invitation.Status.ACCEPTED)

    assert owner_client.post(_url(tenant, f"invitations/{invitation.pk}/resend/")).status_code == 400
    response = owner_client.post(_url(tenant, f"invitations/{invitation.pk}/cancel/"))
    assert response.status_code == 400
    assert "already accepted" in response.content.decode()
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.ACCEPTED
    assert mailoutbox == []


def test_admins_cannot_resend_or_cancel_an_owner_invitation(client, tenant, mailoutbox):
    invitation = InvitationFactory(tenant=tenant, role=Role.OWNER)
    admin = _login(client, _member(tenant, Role.ADMIN))

    assert admin.post(_url(tenant, f"invitations/{invitation.pk}/resend/")).status_code == 403
    assert admin.post(_url(tenant, f"invitations/{invitation.pk}/cancel/")).status_code == 403
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.PENDING
    assert mailoutbox == []


def test_analysts_cannot_resend_or_cancel(client, tenant, mailoutbox):
    invitation = InvitationFactory(tenant=tenant)
    analyst = _login(client, _member(tenant, Role.ANALYST))

    assert analyst.post(_url(tenant, f"invitations/{invitation.pk}/resend/")).status_code == 403
    assert analyst.post(_url(tenant, f"invitations/{invitation.pk}/cancel/")).status_code == 403
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.PENDING


# --- Roles ------------------------------------------------------------------------------------------------------------


def test_an_owner_changes_a_members_role(owner_client, tenant):
    analyst = _member(tenant, Role.ANALYST, "anna@example.com")

    response = owner_client.post(_url(tenant, f"members/{analyst.pk}/role/"), {"role": "owner"}, follow=True)

    analyst.refresh_from_db()
    assert analyst.role == Role.OWNER
    assert "anna@example.com is now owner." in response.content.decode()


def test_the_last_owner_cannot_be_demoted(client, tenant):
    owner = _member(tenant, Role.OWNER, "olga@example.com")

    response = _login(client, owner).post(_url(tenant, f"members/{owner.pk}/role/"), {"role": "admin"})

    assert response.status_code == 400
    assert "olga@example.com is the last owner; make someone else an owner first." in response.content.decode()
    owner.refresh_from_db()
    assert owner.role == Role.OWNER


def test_an_owner_can_be_demoted_while_another_owner_remains(owner_client, tenant):
    other_owner = _member(tenant, Role.OWNER)

    assert owner_client.post(_url(tenant, f"members/{other_owner.pk}/role/"), {"role": "analyst"}).status_code == 302
    other_owner.refresh_from_db()
    assert other_owner.role == Role.ANALYST


def test_admins_manage_admins_and_analysts_but_not_owners(client, tenant):
    owner = _member(tenant, Role.OWNER)
    other_admin = _member(tenant, Role.ADMIN)
    analyst = _member(tenant, Role.ANALYST)
    admin = _login(client, _member(tenant, Role.ADMIN))

    assert admin.post(_url(tenant, f"members/{analyst.pk}/role/"), {"role": "admin"}).status_code == 302
    assert admin.post(_url(tenant, f"members/{other_admin.pk}/role/"), {"role": "analyst"}).status_code == 302
    assert admin.post(_url(tenant, f"members/{owner.pk}/role/"), {"role": "analyst"}).status_code == 403
    assert admin.post(_url(tenant, f"members/{analyst.pk}/role/"), {"role": "owner"}).status_code == 403
    roles = dict(Membership.objects.filter(pk__in=[owner.pk, other_admin.pk, analyst.pk]).values_list("pk", "role"))
    assert roles == {owner.pk: Role.OWNER, other_admin.pk: Role.ANALYST, analyst.pk: Role.ADMIN}


def test_an_admin_cannot_make_themselves_owner(client, tenant):
    admin = _member(tenant, Role.ADMIN)

    assert _login(client, admin).post(_url(tenant, f"members/{admin.pk}/role/"), {"role": "owner"}).status_code == 403
    admin.refresh_from_db()
    assert admin.role == Role.ADMIN


def test_an_unknown_role_is_refused(owner_client, tenant):
    analyst = _member(tenant, Role.ANALYST)

    response = owner_client.post(_url(tenant, f"members/{analyst.pk}/role/"), {"role": "superuser"})

    assert response.status_code == 400
    analyst.refresh_from_db()
    assert analyst.role == Role.ANALYST


def test_analysts_cannot_change_roles(client, tenant):
    other = _member(tenant, Role.ANALYST)
    analyst = _login(client, _member(tenant, Role.ANALYST))

    assert analyst.post(_url(tenant, f"members/{other.pk}/role/"), {"role": "admin"}).status_code == 403
    other.refresh_from_db()
    assert other.role == Role.ANALYST


def test_another_tenants_member_cannot_be_changed_from_here(owner_client, tenant, other_tenant):
    theirs = _member(other_tenant, Role.ANALYST)

    for action, data in (("role", {"role": "admin"}), ("remove", {})):
        assert owner_client.post(_url(tenant, f"members/{theirs.pk}/{action}/"), data).status_code == 404
        assert owner_client.get(_url(tenant, f"members/{theirs.pk}/{action}/")).status_code == 404
    theirs.refresh_from_db()
    assert theirs.role == Role.ANALYST


# --- Removing ---------------------------------------------------------------------------------------------------------


def test_an_owner_removes_a_member(owner_client, tenant):
    analyst = _member(tenant, Role.ANALYST, "anna@example.com")

    response = owner_client.post(_url(tenant, f"members/{analyst.pk}/remove/"), follow=True)

    assert not Membership.objects.filter(pk=analyst.pk).exists()
    assert "anna@example.com was removed from the team." in response.content.decode()


def test_admins_remove_admins_and_analysts_but_not_owners(client, tenant):
    owner = _member(tenant, Role.OWNER)
    other_admin = _member(tenant, Role.ADMIN)
    analyst = _member(tenant, Role.ANALYST)
    admin = _login(client, _member(tenant, Role.ADMIN))

    assert admin.post(_url(tenant, f"members/{owner.pk}/remove/")).status_code == 403
    assert admin.post(_url(tenant, f"members/{other_admin.pk}/remove/")).status_code == 302
    assert admin.post(_url(tenant, f"members/{analyst.pk}/remove/")).status_code == 302
    assert set(Membership.objects.filter(tenant=tenant).values_list("role", flat=True)) == {Role.OWNER, Role.ADMIN}


def test_the_last_owner_cannot_remove_themselves(client, tenant):
    owner = _member(tenant, Role.OWNER)
    _member(tenant, Role.ADMIN)

    response = _login(client, owner).post(_url(tenant, f"members/{owner.pk}/remove/"))

    assert response.status_code == 400
    assert "You are the last owner; make someone else an owner first." in response.content.decode()
    assert Membership.objects.filter(pk=owner.pk).exists()


def test_an_owner_can_leave_while_another_owner_remains(client, tenant):
    leaving = _member(tenant, Role.OWNER)
    _member(tenant, Role.OWNER)

    response = _login(client, leaving).post(_url(tenant, f"members/{leaving.pk}/remove/"))

    assert response.status_code == 302
    assert response.url == "/"
    assert not Membership.objects.filter(pk=leaving.pk).exists()
    assert client.get(_url(tenant)).status_code == 404  # no longer a member


def test_analysts_cannot_remove_anyone(client, tenant):
    other = _member(tenant, Role.ANALYST)
    analyst = _login(client, _member(tenant, Role.ANALYST))

    assert analyst.post(_url(tenant, f"members/{other.pk}/remove/")).status_code == 403
    assert Membership.objects.filter(pk=other.pk).exists()


def test_team_actions_answer_get_with_405(owner_client, tenant):
    member = _member(tenant, Role.ANALYST)
    invitation = InvitationFactory(tenant=tenant)

    for suffix in ("invitations/", f"invitations/{invitation.pk}/resend/", f"invitations/{invitation.pk}/cancel/",
                   f"members/{member.pk}/role/", f"members/{member.pk}/remove/"):  # fmt: skip
        assert owner_client.get(_url(tenant, suffix)).status_code == 405, suffix


# --- Accepting --------------------------------------------------------------------------------------------------------


def test_the_invited_user_logged_in_joins_with_one_click(client, tenant):
    user = UserFactory(email="ivan@example.com")
    invitation = InvitationFactory(tenant=tenant, email="ivan@example.com", role=Role.ADMIN)
    client.force_login(user)

    page = client.get(f"/invitations/{invitation.token}/")
    assert page.status_code == 200
    assert "Join Alice&#x27;s Anglers" in page.content.decode()
    assert not Membership.objects.filter(user=user).exists()  # opening the link changes nothing

    response = client.post(f"/invitations/{invitation.token}/")

    assert response.status_code == 302
    assert response.url == f"/t/{tenant.slug}/"
    assert Membership.objects.get(user=user, tenant=tenant).role == Role.ADMIN
    invitation.refresh_from_db()
    assert (invitation.status, invitation.accepted_by) == (Invitation.Status.ACCEPTED, user)
    assert "You joined as admin." in client.get(response.url).content.decode()


def test_accepting_again_changes_nothing_and_leads_to_the_tenant(client, tenant):
    user = UserFactory(email="ivan@example.com")
    invitation = InvitationFactory(tenant=tenant, email="ivan@example.com")
    client.force_login(user)
    client.post(f"/invitations/{invitation.token}/")

    for method in ("get", "post"):
        response = getattr(client, method)(f"/invitations/{invitation.token}/")
        assert (response.status_code, response.url) == (302, f"/t/{tenant.slug}/")
    assert Membership.objects.filter(user=user, tenant=tenant).count() == 1


def test_a_new_address_chooses_a_password_and_is_logged_in(client, tenant):
    invitation = InvitationFactory(tenant=tenant, email="ivan@example.com", role=Role.ANALYST)

    page = client.get(f"/invitations/{invitation.token}/").content.decode()
    assert "Choose a password for <strong>ivan@example.com</strong>" in page

    response = client.post(
        f"/invitations/{invitation.token}/",
        {"password1": "a-long-unusual-secret", "password2": "a-long-unusual-secret"},
    )

    assert (response.status_code, response.url) == (302, f"/t/{tenant.slug}/")
    user = get_user(client)
    assert user.is_authenticated
    assert user.email == "ivan@example.com"
    assert user.check_password("a-long-unusual-secret")
    assert Membership.objects.get(user=user, tenant=tenant).role == Role.ANALYST


@pytest.mark.parametrize(
    ("password1", "password2", "error"),
    [
        ("a-long-unusual-secret", "something-else-entirely", "The two passwords differ."),
        ("12345678", "12345678", "too common"),
    ],
)
def test_a_bad_password_is_refused_and_no_account_is_made(client, tenant, password1, password2, error):
    invitation = InvitationFactory(tenant=tenant, email="ivan@example.com")

    response = client.post(f"/invitations/{invitation.token}/", {"password1": password1, "password2": password2})

    assert response.status_code == 400
    assert error in response.content.decode()
    assert not Membership.objects.exists()
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.PENDING
    assert not User.objects.filter(email="ivan@example.com").exists()


def test_an_invited_address_with_an_account_is_asked_to_log_in_first(client, tenant):
    UserFactory(email="ivan@example.com")
    invitation = InvitationFactory(tenant=tenant, email="ivan@example.com")

    page = client.get(f"/invitations/{invitation.token}/").content.decode()
    response = client.post(f"/invitations/{invitation.token}/", {"password1": "x", "password2": "x"})

    assert f"/accounts/login/?next=%2Finvitations%2F{invitation.token}%2F" in page
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/?next=")
    assert not Membership.objects.exists()


def test_someone_else_logged_in_is_told_and_offered_to_log_out(client, tenant):
    invitation = InvitationFactory(tenant=tenant, email="ivan@example.com")
    client.force_login(UserFactory(email="someone@example.com"))

    response = client.get(f"/invitations/{invitation.token}/")
    client.post(f"/invitations/{invitation.token}/")

    assert response.status_code == 403
    page = response.content.decode()
    assert "This invitation is for <strong>ivan@example.com</strong>" in page
    assert 'action="/accounts/logout/"' in page
    assert not Membership.objects.exists()
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.PENDING


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"status": Invitation.Status.CANCELLED}, "This invitation was cancelled."),
        ({"expires_at_offset": -1}, "This invitation has expired."),
        ({"status": Invitation.Status.ACCEPTED}, "This invitation has already been used."),
    ],
)
def test_a_link_that_can_no_longer_be_used_says_why(client, tenant, fields, message):
    offset = fields.pop("expires_at_offset", 7)
    invitation = InvitationFactory(tenant=tenant, email="ivan@example.com",
                                   expires_at=timezone.now() + timedelta(days=offset), **fields)  # fmt: skip
    client.force_login(UserFactory(email="ivan@example.com"))

    for method in ("get", "post"):
        response = getattr(client, method)(f"/invitations/{invitation.token}/")
        assert response.status_code == 410
        assert message in response.content.decode()
    assert not Membership.objects.exists()


def test_an_unknown_link_is_not_found(client):
    response = client.get("/invitations/not-a-token-we-ever-issued-at-all/")

    assert response.status_code == 404
    assert "This invitation link is not valid." in response.content.decode()


def test_from_invitation_e_mail_to_a_working_login(owner_client, client, tenant, mailoutbox):
    owner_client.post(_url(tenant, "invitations/"), {"email": "ivan@example.com", "role": "analyst"})
    owner_client.logout()
    token = _token_from(mailoutbox[0])

    client.post(f"/invitations/{token}/", {"password1": "a-long-unusual-secret", "password2": "a-long-unusual-secret"})
    client.logout()

    assert client.login(username="ivan@example.com", password="a-long-unusual-secret")
    assert client.get(f"/t/{tenant.slug}/").status_code == 200
    assert client.post(f"/t/{tenant.slug}/api-keys/", {"name": "x"}).status_code == 403  # joined as analyst
