"""The purge service in small batches: a family split across batches goes with its last token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine
from flask import Flask
from sqlalchemy import func, select

from authserver.extensions import db
from authserver.keys.manager import ensure_active_keys
from authserver.maintenance.purge import purge
from authserver.models import RefreshFamily, RefreshToken, RevokedAccessToken
from authserver.oauth.deny_list import deny
from tests.cli.admin_support import refresh, run_code_flow
from tests.factories import make_user
from tests.support.account import signed_in_browser
from tests.support.oauth import make_relying_party

SCOPE = "openid offline_access"


def count(model: type[object]) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def test_batches_delete_everything_dead_and_nothing_else(app: Flask) -> None:
    now = datetime.now(UTC)
    ensure_active_keys(now=now)
    make_user()
    rp = make_relying_party(scope=SCOPE)
    with time_machine.travel(now - timedelta(days=40), tick=False) as traveller:
        web = signed_in_browser(app)
        grant = run_code_flow(web, rp, scope=SCOPE)
        for _ in range(4):  # one family of five rotated tokens, all past their absolute end
            traveller.shift(timedelta(minutes=1))
            rotated = refresh(web, grant).json
            grant.refresh_token = rotated["refresh_token"]
    live = run_code_flow(signed_in_browser(app), rp, scope=SCOPE)
    for minutes in range(-25, 3):  # 25 dead deny-list rows, 3 live ones
        deny("jti", f"jti-{minutes}", expires_at=now + timedelta(minutes=minutes, seconds=30))
    db.session.commit()
    assert (count(RefreshToken), count(RefreshFamily)) == (6, 2)

    counts = purge(now=now, settings=app.extensions["authserver.settings"], batch_size=2)

    assert counts["refresh_tokens"] == 5
    assert counts["refresh_families"] == 1
    assert counts["revoked_access_tokens"] == 25
    assert (count(RefreshToken), count(RefreshFamily), count(RevokedAccessToken)) == (1, 1, 3)
    assert refresh(signed_in_browser(app), live).status_code == 200
