"""SQLAlchemy models, one module per aggregate. Importing this package registers them all."""

from authserver.models.account_tokens import (
    EmailVerificationToken,
    Invitation,
    NotMeToken,
    PasswordResetToken,
)
from authserver.models.apis import Api
from authserver.models.audit import AuditEvent, AuditMaintenanceFlag
from authserver.models.backchannel import LogoutMessage, SessionRelyingParty
from authserver.models.clients import Client, ClientAssertionJti
from authserver.models.device_codes import DeviceCode
from authserver.models.keys import KeyState, SigningAlg, SigningKey
from authserver.models.lockout import LoginDevice, UnlockToken
from authserver.models.mfa import RecoveryCode, TotpCredential
from authserver.models.passkeys import Passkey, PasskeyChallenge
from authserver.models.pushed_requests import PushedAuthorizationRequest
from authserver.models.roles import UserRole
from authserver.models.sessions import BrowserSessionRecord
from authserver.models.tokens import (
    AuthorizationCode,
    Consent,
    DPoPProofJti,
    RefreshFamily,
    RefreshToken,
    RevokedAccessToken,
)
from authserver.models.users import User

__all__ = [
    "Api",
    "AuditEvent",
    "AuditMaintenanceFlag",
    "AuthorizationCode",
    "BrowserSessionRecord",
    "Client",
    "ClientAssertionJti",
    "Consent",
    "DPoPProofJti",
    "DeviceCode",
    "EmailVerificationToken",
    "Invitation",
    "KeyState",
    "LoginDevice",
    "LogoutMessage",
    "NotMeToken",
    "Passkey",
    "PasskeyChallenge",
    "PasswordResetToken",
    "PushedAuthorizationRequest",
    "RecoveryCode",
    "RefreshFamily",
    "RefreshToken",
    "RevokedAccessToken",
    "SessionRelyingParty",
    "SigningAlg",
    "SigningKey",
    "TotpCredential",
    "UnlockToken",
    "User",
    "UserRole",
]
