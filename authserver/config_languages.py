"""The page-language settings (AUTHSERVER_TRANSLATIONS_DIR), inherited by Settings.

English and the catalogs in authserver/translations/ are built in; an operator may add languages
of their own, or replace a built-in catalog, from a folder of compiled catalogs.
"""

from __future__ import annotations

from dataclasses import dataclass

from authserver.config_fields import parse_str, setting

# The language the pages and mails are written in, and the one used when no other is known.
SOURCE_LANGUAGE = "en"


@dataclass(frozen=True)
class LanguageSettings:
    translations_dir: str = setting(
        "",
        parse_str,
        "Folder of extra compiled catalogs (<language>/LC_MESSAGES/messages.mo, made by "
        "`pybabel compile`), used before the built-in ones; empty means none",
    )
