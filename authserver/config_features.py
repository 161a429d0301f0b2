"""The settings of each feature, declared in a module of their own, gathered for Settings.

Settings (config.py) inherits this one class, which inherits every feature's: the rate limits
(config_limits.py), the back-channel logout delivery (config_backchannel.py), the page languages
(config_languages.py), passkeys (config_passkeys.py) and the branding (config_branding.py). A
new feature's settings go in a config_<feature>.py and are added here.
"""

from __future__ import annotations

from dataclasses import dataclass

from authserver.config_backchannel import BackchannelLogoutSettings
from authserver.config_branding import BrandingSettings
from authserver.config_languages import LanguageSettings
from authserver.config_limits import RateLimitSettings
from authserver.config_passkeys import PasskeySettings


@dataclass(frozen=True)
class FeatureSettings(
    RateLimitSettings,
    BackchannelLogoutSettings,
    LanguageSettings,
    PasskeySettings,
    BrandingSettings,
):
    """Every feature's settings; fields of the same name must not repeat across them."""
