"""accounts/emailed_links.py: what reset, verification and unlock links share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask

from authserver.accounts.emailed_links import (
    LINK_PATHS,
    LinkPurpose,
    claim_link,
    find_link,
    link_url,
    store_new_link,
)
from authserver.extensions import db
from authserver.models import (
    EmailVerificationToken,
    Invitation,
    NotMeToken,
    PasswordResetToken,
    UnlockToken,
)
from authserver.observability.redaction import LINK_PATH_PREFIXES
from tests.factories import make_user

NOW = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)
TABLES = {
    LinkPurpose.PASSWORD_RESET: PasswordResetToken,
    LinkPurpose.EMAIL_VERIFICATION: EmailVerificationToken,
    LinkPurpose.UNLOCK: UnlockToken,
    LinkPurpose.NOT_ME: NotMeToken,
    LinkPurpose.INVITATION: Invitation,
}
# Tables that keep the address the link was sent to.
WITH_EMAIL = {LinkPurpose.EMAIL_VERIFICATION, LinkPurpose.INVITATION}


def store(purpose: LinkPurpose, user_id: int, email: str) -> str:
    extra = {"email": email} if purpose in WITH_EMAIL else {}
    token = store_new_link(
        TABLES[purpose],
        purpose,
        user_id,
        now=NOW,
        expires_at=NOW + timedelta(hours=1),
        replace_earlier=False,
        **extra,
    )
    db.session.commit()
    return token


@pytest.mark.parametrize("purpose", list(LinkPurpose))
def test_a_token_opens_only_links_of_its_own_purpose(app: Flask, purpose: LinkPurpose) -> None:
    user = make_user()
    token = store(purpose, user.id, user.email)

    assert find_link(TABLES[purpose], purpose, token) is not None
    for other in LinkPurpose:
        if other is not purpose:
            # The same string, looked up as another purpose's token, hashes to another value.
            assert find_link(TABLES[other], other, token) is None


def test_of_two_uses_of_one_link_exactly_one_claims_it(app: Flask) -> None:
    user = make_user()
    token = store(LinkPurpose.UNLOCK, user.id, user.email)
    row = find_link(UnlockToken, LinkPurpose.UNLOCK, token)
    assert row is not None

    assert claim_link(UnlockToken, row.id, now=NOW) is True
    assert claim_link(UnlockToken, row.id, now=NOW) is False


def test_an_expired_link_cannot_be_claimed(app: Flask) -> None:
    user = make_user()
    token = store(LinkPurpose.PASSWORD_RESET, user.id, user.email)
    row = find_link(PasswordResetToken, LinkPurpose.PASSWORD_RESET, token)
    assert row is not None

    assert claim_link(PasswordResetToken, row.id, now=NOW + timedelta(hours=1)) is False


@pytest.mark.parametrize("token", ["", "short", "x" * 43 + "/", "../" * 15, "é" * 43])
def test_a_token_not_shaped_like_ours_is_refused_before_any_lookup(app: Flask, token: str) -> None:
    assert find_link(PasswordResetToken, LinkPurpose.PASSWORD_RESET, token) is None


def test_links_point_at_the_issuer_and_every_path_is_kept_out_of_the_logs(app: Flask) -> None:
    with app.test_request_context("/", base_url="http://attacker.example"):
        url = link_url(LinkPurpose.UNLOCK, "t" * 43)

    assert url == "http://localhost/unlock/" + "t" * 43  # the configured issuer, not the Host
    assert set(LINK_PATHS.values()) == set(LINK_PATH_PREFIXES)
