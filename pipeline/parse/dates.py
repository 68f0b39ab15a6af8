"""Timestamps and post dates, always with their zone.

Sources, in order of trust (a reader takes the first that gives a value):

1. a comment permalink, ``?showComment=<ms>`` or ``?commentId=<ms>``: the exact instant
   (milliseconds since 1970, UTC), written with ``Z``;
2. machine-readable attributes (``abbr.published title=``, ``time datetime=``, ``data-*``,
   Atom ``<published>``): ISO 8601 as given, the offset kept;
3. the visible text, in any language, read by ``dateparser`` with the page's language.

Visible text states no zone.  Blogger prints times in the blog's own time zone (a blog
setting), so a wall time read from text is that zone's local time: it is kept as written and
given the zone's UTC offset for that date (``zoneinfo``, daylight saving included).  The zone
defaults to ``Europe/London`` (the blogs this tool was built for are British) and can be
changed with ``parse --tz``.  A calendar date alone (a post's date line) has no instant and
is written ``YYYY-MM-DD``.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import Code, PipelineError

DEFAULT_TZ = "Europe/London"
_EPOCH_RE = re.compile(r"[?&](?:showComment|commentId)=(\d{10,14})\b")
# Spanish and Catalan pages write 'a. m.' / 'p. m.' (often with no-break spaces): dateparser wants 'am' / 'pm'.
_MERIDIEM_RE = re.compile(r"\b([ap])\.[\s\xa0]*m\.?", re.I)
# A time at the end of a date: '6. Juni 2015 um 10:23', '30/12/14 2:07 am', 'May 30, 2019 at 1:06 pm', '14h07'.
_TIME_TAIL_RE = re.compile(r"^(?P<date>.*?\d.*?)[\s,]*(?:\b(?:at|um|à|a las|a la|alle|om|às|kl\.?|o)\b)?[\s,]*"
                           r"(?P<h>\d{1,2})[:.h](?P<m>\d{2})(?:\s*(?P<ampm>[ap])m)?(?:\s*Uhr)?$", re.I)
# A candidate for a date: some digit and at most a line's length (speed: most lines are not dates).
_MAX_DATE_CHARS = 80
# Absolute dates only: relative ones ('yesterday', 'vor 2 Stunden') and bare numbers read as epoch
# seconds would depend on the day the parser runs (same input, different output).
_SETTINGS = {"PREFER_DAY_OF_MONTH": "first", "REQUIRE_PARTS": ["day", "month", "year"],
             "RETURN_AS_TIMEZONE_AWARE": False, "PARSERS": ["custom-formats", "absolute-time"]}


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or DEFAULT_TZ)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise PipelineError(Code.E009, f"unknown time zone {name!r}.",
                            fix="Give an IANA zone name such as Europe/London or America/New_York.") from exc


def from_epoch_ms(ms: int | str) -> str | None:
    """``1407869700000`` -> ``2014-08-12T18:55:00Z``."""
    try:
        dt = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=int(ms))
    except (OverflowError, ValueError):
        return None
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def from_permalink(href: str | None) -> str | None:
    m = _EPOCH_RE.search(href or "")
    return from_epoch_ms(m.group(1)) if m else None


def iso_with_zone(dt: datetime) -> str:
    s = dt.isoformat(timespec="seconds")
    return s[:-6] + "Z" if s.endswith("+00:00") and dt.tzinfo is timezone.utc else s


@lru_cache(maxsize=4096)
def from_iso(value: str, tz: str = DEFAULT_TZ) -> str | None:
    """An ISO 8601 string, its offset kept (``-08:00`` stays); a naive one gets ``tz``'s offset.

    A bare date stays a date.  Returns None when the value is not ISO 8601.
    """
    value = (value or "").strip()
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00") if value[-1] in "zZ" else value)
    except ValueError:
        return None
    if len(value) <= 10:  # '2015-06-05': a calendar date
        return dt.date().isoformat()
    if dt.tzinfo is None:
        return localise(dt, tz)
    if value[-1] in "zZ":
        dt = dt.replace(tzinfo=timezone.utc)
    return iso_with_zone(dt)


def localise(dt: datetime, tz: str = DEFAULT_TZ) -> str:
    """A wall time read from the page, in the blog's zone, with that zone's offset on that date."""
    return dt.replace(tzinfo=zone(tz)).isoformat(timespec="seconds")


def wall_time(d: str | date | None, hh: int, mm: int, tz: str = DEFAULT_TZ) -> str | None:
    """``('2015-04-23', 8, 2)`` -> ``2015-04-23T08:02:00+01:00`` (Europe/London in summer)."""
    if d is None or not (0 <= hh < 24 and 0 <= mm < 60):
        return None
    day = d if isinstance(d, str) else d.isoformat()
    # Speed only: the offset at the start and at the end of the hour agree unless the clocks change
    # within it (then the minute is looked up); both ends are cached, and a thread's comments share days.
    first, last = _offset(day, hh, 0, tz), _offset(day, hh, 59, tz)
    return f"{day}T{hh:02d}:{mm:02d}:00{first if first == last else _offset(day, hh, mm, tz)}"


@lru_cache(maxsize=65536)
def _offset(day: str, hh: int, mm: int, tz: str) -> str:
    return localise(datetime.fromisoformat(f"{day}T{hh:02d}:{mm:02d}"), tz)[19:]


def languages_for(lang: str | None) -> tuple[str, ...]:
    """dateparser language codes for an ``<html lang>`` value (``de-DE`` -> ``('de', 'en')``).

    With no language known (a text copy), the languages Blogger's British and European readers
    write most: letting dateparser detect among all it knows costs about 0.1 s a string.
    """
    code = (lang or "").strip().lower().replace("_", "-").split("-")[0]
    if not code or not code.isalpha():
        return UNKNOWN_LANGUAGES
    return ("en",) if code == "en" else (code, "en")


UNKNOWN_LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pt")


@lru_cache(maxsize=64)
def _date_parser(languages: tuple[str, ...], order: str | None):
    """One dateparser parser per language set and date order (building one loads its locales)."""
    from dateparser.date import DateDataParser  # imported on first use: 0.2 s, and most inputs never need it

    settings = dict(_SETTINGS)
    if order:
        settings["DATE_ORDER"] = order
    return DateDataParser(languages=list(languages), settings=settings)


@lru_cache(maxsize=16384)  # a page repeats few distinct date strings; dateparser costs ~1 ms per call
def _parse_visible(text: str, languages: tuple[str, ...], order: str | None) -> datetime | None:
    try:
        return _date_parser(languages, order).get_date_data(text).date_obj
    except (ValueError, OverflowError, KeyError, TypeError, RecursionError):  # malformed input: not a date
        return None


def parse_visible(text: str | None, *, lang: str | None = None, tz: str = DEFAULT_TZ,
                  date_only: bool = False) -> str | None:
    """Visible date text in any language (``6. Juni 2015 um 10:23``, ``30/12/14 2:07 a. m.``).

    With a time: ISO 8601 in ``tz`` with its offset.  Without (or ``date_only``): ``YYYY-MM-DD``.
    Numeric dates are read day first, except on US English pages (``lang="en-US"``).
    """
    text = " ".join((text or "").split())
    if not text or len(text) > _MAX_DATE_CHARS or not any(c.isdigit() for c in text):
        return None
    text = _MERIDIEM_RE.sub(lambda m: m.group(1).lower() + "m", text)
    order = "MDY" if (lang or "").lower().replace("_", "-") == "en-us" else "DMY"
    if not date_only and (m := _TIME_TAIL_RE.match(text)):
        # The date and the time apart: a thread's comments share a few dates but hardly any times, so
        # dateparser (about 1 ms a call) reads each distinct date once and the time is read here.
        day = _parse_visible(m.group("date"), languages_for(lang), order)
        hh, mm = int(m.group("h")), int(m.group("m"))
        if m.group("ampm") and 1 <= hh <= 12:
            hh = hh % 12 + (12 if m.group("ampm").lower() == "p" else 0)
        if day is not None and day.year >= 1990 and hh < 24 and mm < 60:
            return wall_time(day.date().isoformat(), hh, mm, tz)
    dt = _parse_visible(text, languages_for(lang), order)
    if dt is None or dt.year < 1990:
        return None
    if date_only or not re.search(r"\d[:.h]\d\d", text):  # no time of day was written
        return dt.date().isoformat()
    return localise(dt, tz)


__all__ = ["DEFAULT_TZ", "zone", "from_epoch_ms", "from_permalink", "from_iso", "localise", "wall_time",
           "parse_visible", "languages_for"]
