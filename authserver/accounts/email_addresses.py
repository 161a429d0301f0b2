"""E-mail addresses: the one stored form, and the look-alikes refused at registration.

Every address that is stored or looked up goes through :func:`normalise_email`, so that one
person's address has one form whatever keyboard typed it:

- Unicode NFKC folds compatibility forms into the plain letter: full-width letters (U+FF41
  FULLWIDTH LATIN SMALL LETTER A is ``a``), ligatures, superscripts, the ideographic space.
- Case folding (not ``lower()``) is Unicode's caseless comparison: U+00DF (sharp s) becomes
  ``ss`` and U+017F (long s) becomes ``s``; NFKC runs again after it because folding can
  un-normalise a string.
- Folding U+0130 LATIN CAPITAL LETTER I WITH DOT ABOVE (Turkish) gives ``i`` plus U+0307
  COMBINING DOT ABOVE, a dot that ``i`` and ``j`` already carry (they are "soft-dotted" in
  Unicode): it is dropped, so ``ALICE`` written with that capital is ``alice``.

Some different addresses still look the same to a person. Account creation (``create_user`` in
accounts/lifecycle.py) refuses two kinds; sign-in only looks addresses up and refuses nothing:

- A *mixed-script* part: one local part or one domain label with letters from more than one of
  Latin, Cyrillic and Greek (``paypal`` with a Cyrillic U+0440 for the ``p``). These three
  scripts share look-alike letters; a real name is written in one of them. Other scripts (and
  digits, which belong to none) are not judged.
- An *imitation*: an address that is not plain ASCII but whose skeleton (the Cyrillic, Greek
  and Latin letters in :data:`LOOK_ALIKES` replaced by the plain Latin letter they resemble) is
  the address of an existing account: ``alice`` written all in Cyrillic look-alikes beside the
  Latin ``alice``, or ``alice`` with U+0131 LATIN SMALL LETTER DOTLESS I. Accented letters are
  letters of their own: an ``e`` with an acute accent is not an ``e``.

The table is short and hand-made from the letters that are indistinguishable in common fonts
after case folding; Unicode's full confusables list (UTS #39) is not in the standard library, and
the mixed-script rule already refuses most of what it would add.
"""

from __future__ import annotations

import re
import unicodedata

# U+0307 COMBINING DOT ABOVE right after a soft-dotted i or j adds nothing a reader can see.
_REDUNDANT_DOT = re.compile("(?<=[ij])\u0307")
# Scripts whose letters imitate each other; an address part may use letters of one of them.
CONFUSABLE_SCRIPTS = frozenset({"LATIN", "CYRILLIC", "GREEK"})
# Unicode categories that have no place in an address: controls, invisible format characters
# (zero-width space and joiners, bidi overrides), separators, private use, unassigned.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})
# Lower-case (case-folded) Cyrillic and Greek letters that look like a Latin letter.
LOOK_ALIKES = str.maketrans(
    {
        # Cyrillic
        "\N{CYRILLIC SMALL LETTER A}": "a",
        "\N{CYRILLIC SMALL LETTER VE}": "b",
        "\N{CYRILLIC SMALL LETTER ES}": "c",
        "\N{CYRILLIC SMALL LETTER KOMI DE}": "d",
        "\N{CYRILLIC SMALL LETTER IE}": "e",
        "\N{CYRILLIC SMALL LETTER SHHA}": "h",
        "\N{CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I}": "i",
        "\N{CYRILLIC SMALL LETTER JE}": "j",
        "\N{CYRILLIC SMALL LETTER KA}": "k",
        "\N{CYRILLIC SMALL LETTER PALOCHKA}": "l",
        "\N{CYRILLIC SMALL LETTER EM}": "m",
        "\N{CYRILLIC SMALL LETTER PE}": "n",
        "\N{CYRILLIC SMALL LETTER O}": "o",
        "\N{CYRILLIC SMALL LETTER ER}": "p",
        "\N{CYRILLIC SMALL LETTER QA}": "q",
        "\N{CYRILLIC SMALL LETTER GHE}": "r",
        "\N{CYRILLIC SMALL LETTER DZE}": "s",
        "\N{CYRILLIC SMALL LETTER TE}": "t",
        "\N{CYRILLIC SMALL LETTER TSE}": "u",
        "\N{CYRILLIC SMALL LETTER IZHITSA}": "v",
        "\N{CYRILLIC SMALL LETTER WE}": "w",
        "\N{CYRILLIC SMALL LETTER HA}": "x",
        "\N{CYRILLIC SMALL LETTER U}": "y",
        # Greek
        "\N{GREEK SMALL LETTER ALPHA}": "a",
        "\N{GREEK SMALL LETTER BETA}": "b",
        "\N{GREEK LUNATE SIGMA SYMBOL}": "c",
        "\N{GREEK SMALL LETTER EPSILON}": "e",
        "\N{GREEK SMALL LETTER ETA}": "n",
        "\N{GREEK SMALL LETTER IOTA}": "i",
        "\N{GREEK SMALL LETTER KAPPA}": "k",
        "\N{GREEK SMALL LETTER NU}": "v",
        "\N{GREEK SMALL LETTER OMICRON}": "o",
        "\N{GREEK SMALL LETTER RHO}": "p",
        "\N{GREEK SMALL LETTER TAU}": "t",
        "\N{GREEK SMALL LETTER UPSILON}": "u",
        "\N{GREEK SMALL LETTER CHI}": "x",
        "\N{GREEK SMALL LETTER GAMMA}": "y",
        # Latin letters that look like plain ones but do not decompose into them
        "\N{LATIN SMALL LETTER DOTLESS I}": "i",
        "\N{LATIN SMALL LETTER DOTLESS J}": "j",
    }
)


def normalise_email(email: str) -> str:
    """The stored and compared form: trimmed, NFKC, case-folded (Unicode caseless matching)."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", email).casefold())
    return _REDUNDANT_DOT.sub("", folded).strip()


def has_refused_characters(email: str) -> bool:
    return any(unicodedata.category(character) in _REFUSED_CATEGORIES for character in email)


def mixed_script_part(email: str) -> str | None:
    """The first local part or domain label that mixes Latin, Cyrillic and Greek letters."""
    local_part, _, domain = email.partition("@")
    for part in (local_part, *domain.split(".")):
        if len(_confusable_scripts(part)) > 1:
            return part
    return None


def _confusable_scripts(part: str) -> set[str]:
    # The stdlib has no script property; a letter's Unicode name starts with its script's name
    # for these three ("LATIN SMALL LETTER A", "CYRILLIC SMALL LETTER A", "GREEK ...").
    scripts = set()
    for character in part:
        if unicodedata.category(character).startswith("L"):
            script = unicodedata.name(character, "").partition(" ")[0]
            if script in CONFUSABLE_SCRIPTS:
                scripts.add(script)
    return scripts


def skeleton(email: str) -> str:
    """What a normalised address looks like to a reader: look-alike letters made Latin."""
    return unicodedata.normalize("NFKC", email.translate(LOOK_ALIKES))


def imitated_address(email: str) -> str | None:
    """The plain address a normalised, non-ASCII ``email`` imitates, if it imitates one."""
    if email.isascii():
        return None
    imitated = skeleton(email)
    return imitated if imitated != email and imitated.isascii() else None
