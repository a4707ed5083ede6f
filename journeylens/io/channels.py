"""Channel normalisation: one name per channel, whatever the source called it.

``CHANNEL_ALIASES`` maps a canonical channel to the spellings seen in exports.
Matching ignores case and separators ("E-mail", "e_mail", "EMAIL" → ``email``).
Unknown values are kept exactly as given. Extend it per call with
``channel_aliases={"Internet": "web"}`` or globally by editing the dict.
"""

from __future__ import annotations

import re
from typing import Mapping

import numpy as np
import pandas as pd

from ..core.safe_yaml import bounded_repr
from ..errors import ParameterError

CHANNEL_ALIASES: dict[str, tuple[str, ...]] = {
    "email": ("e-mail", "e mail", "newsletter", "email campaign", "emailing", "mailing"),
    "web": ("website", "web site", "www", "internet", "online", "webshop", "site", "desktop web", "mobile web"),
    "app": ("mobile app", "application", "ios app", "android app", "in app", "ios", "android"),
    "sms": ("text", "text message", "sms message", "mms"),
    "push": ("push notification", "notification", "app push"),
    "phone": ("call", "call center", "call centre", "callcenter", "telephone", "tel", "voice"),
    "store": ("shop", "retail store", "in store", "instore", "branch", "pos", "point of sale"),
    "chat": ("live chat", "livechat", "chatbot", "messenger", "whatsapp"),
    "social": ("social media", "socialmedia", "social network"),
    "search_ads": ("paid search", "sem", "ppc", "cpc", "search ad", "search ads", "google ads", "adwords"),
    "display_ads": ("display", "banner", "display ad", "display ads", "programmatic"),
    "organic_search": ("seo", "organic", "search"),
    "post": ("postal", "letter", "postal mail", "snail mail"),
}


def _key(value: str) -> str:
    return re.sub(r"[\s_\-]+", " ", value.strip().lower())


def check_aliases(extra: object) -> dict[str, str] | None:
    """``channel_aliases`` as a ``{spelling: channel}`` dict of texts; a ParameterError for anything else.

    >>> check_aliases({"Internet": "web"})
    {'Internet': 'web'}
    """
    if extra is None:
        return None
    if not isinstance(extra, Mapping):
        raise ParameterError(f"channel_aliases must be a mapping of spelling → channel, such as "
                             f"{{'Internet': 'web'}}, not {type(extra).__name__} {bounded_repr(extra)}",
                             "channel_aliases")
    bad = next(((k, v) for k, v in extra.items() if not isinstance(k, str) or not isinstance(v, str)), None)
    if bad is not None:
        raise ParameterError(f"channel_aliases: spellings and channels are texts, not {bounded_repr(bad)}",
                             "channel_aliases")
    return dict(extra)


def alias_table(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Normalised spelling → canonical channel, including canonical names themselves."""
    table: dict[str, str] = {}
    for canonical, spellings in CHANNEL_ALIASES.items():
        table[_key(canonical)] = canonical
        for s in spellings:
            table[_key(s)] = canonical
    for spelling, canonical in (extra or {}).items():
        table[_key(spelling)] = canonical
    return table


def normalise_channels(values: pd.Series, extra: Mapping[str, str] | None = None) -> pd.Series:
    """Return ``values`` with known spellings replaced by canonical channel names.

    Works on the distinct values only, so it costs nothing per event.

    >>> normalise_channels(pd.Series(["E-mail", "Internet", "Desk"])).tolist()
    ['email', 'web', 'Desk']
    """
    table = alias_table(extra)
    cat = values.astype("category")
    mapped = [table.get(_key(str(c)), c) for c in cat.cat.categories]  # one lookup per distinct value
    categories = pd.Index(mapped, dtype=object).unique()
    lookup = np.append(categories.get_indexer(mapped), -1)  # code -1 (missing) picks the trailing -1
    codes = lookup[cat.cat.codes.to_numpy()]
    return pd.Series(pd.Categorical.from_codes(codes, categories=categories), index=values.index, name=values.name)
