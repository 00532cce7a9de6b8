"""``consent vcl``: the Varnish configuration of a site in ``cache_mode`` "esi" or "shared".

The VCL is made from the site's settings, so that it names the site's own
consent cookie, the cookies of its categories and its path prefix. It defines
subroutines that the site's VCL calls first in their namesakes; nothing else
of the site's VCL changes (``docs/caches.md``).
"""

from __future__ import annotations

import re
from fnmatch import translate

from .category import LOCALE_ALIASES
from .settings import ConsentSettings

_BRACKET = re.compile(r"\[!?\]?[^\]]*\]")


_NAME_CHAR = r"[^;=\s]"
"""One character of a cookie name inside a ``Cookie`` header: never a separator."""


def cookie_name_regex(pattern: str) -> str:
    """A PCRE matching the cookie names the glob ``pattern`` matches, within a ``Cookie`` header.

    A star, a question mark or a bracket never takes a separator (``;``, ``=``,
    the space after ``;``): the name matched is the whole name of one cookie.
    """
    out = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "*":
            out.append(_NAME_CHAR + "*")
        elif char == "?":
            out.append(_NAME_CHAR)
        elif char == "[" and (bracket := _BRACKET.match(pattern, index)):
            # fnmatch's own reading of [seq] and [!seq], as Python writes it: PCRE reads it
            # alike. The lookahead keeps it to a name's characters.
            out.append(f"(?={_NAME_CHAR})" + translate(bracket.group())[4:-3])
            index = bracket.end()
            continue
        else:
            out.append(re.escape(char))
        index += 1
    return "".join(out)


def varnish_vcl(
    settings: ConsentSettings, keep: tuple[str, ...] = (), ignore: tuple[str, ...] = ()
) -> str:
    """The VCL for ``settings``; ``ValueError`` when ``cache_mode`` is ``"vary"``.

    The consent cookie and every category's cookies are left out of the cache
    look-up: the page is the same whatever they say. ``keep`` names the
    category cookies (patterns as declared) that the site reads to make the page
    (a theme, a region): a request with one goes to the site's own rules.
    ``ignore`` names necessary cookies that do not change the page either (a
    load balancer's, an anonymous session's); a cookie that marks a signed-in
    reader must not be one of them.
    """
    mode = settings.cache_mode
    if mode == "vary":
        raise ValueError(
            'cache_mode: "vary" pages are made for each visitor and vary by Cookie; '
            'a cache in front needs "esi" or "shared"'
        )
    prefix = re.escape(settings.path_prefix)
    declared = [p for c in settings.categories for p in c.all_cookies]
    unknown = sorted(set(keep) - set(declared))
    if unknown:
        raise ValueError(f"--keep: {unknown} not declared by any category")
    stray = sorted(set(ignore) - set(settings.necessary_cookies))
    if stray:
        raise ValueError(f"--ignore: {stray} not in necessary_cookies")
    names = [settings.cookie_name, *(p for p in declared if p not in keep), *ignore]
    cookies = "|".join(dict.fromkeys(cookie_name_regex(name) for name in names))
    esi = mode == "esi"
    lines = [
        f"# consent: Varnish in front of a site in cache_mode {mode!r}.",
        "# Made by `consent vcl` from the site's settings. Include this file, then call",
        "# each subroutine first in its namesake:",
        "#",
        '#   include "consent.vcl";',
        "#   sub vcl_recv { call consent_recv; }",
        "#   sub vcl_backend_response { call consent_backend_response; }",
        "",
        "sub consent_recv {",
    ]
    if esi:
        lines += [
            "    # The middleware includes ESI fragments only for a cache that says it reads them.",
            "    unset req.http.Surrogate-Capability;",
            '    set req.http.Surrogate-Capability = {"varnish="ESI/1.0""};',
        ]
    lines += [
        "    # The banner's files: the same for everyone, with a hash in their names.",
        f'    if (req.url ~ "^{prefix}/static/") {{',
        "        unset req.http.Cookie;",
        "        return (hash);",
        "    }",
        "    # Decisions, the preferences page and the fragments: one visitor's each.",
        f'    if (req.url ~ "^({prefix}(/|\\?|$)|/\\.well-known/gpc\\.json)") {{',
        "        return (pass);",
        "    }",
        '    if ((req.method != "GET" && req.method != "HEAD") || req.http.Authorization) {',
        "        return;",
        "    }",
    ]
    if not esi and not (settings.locale or len(settings.available_locales) == 1):
        lines += _accept_language_lines(settings)
    lines += [
        "    # The consent cookie and the cookies of the consent categories (and those of",
        "    # `consent vcl --ignore`) do not change the page: with no other cookie, it is",
        "    # looked up in the cache. The Cookie header",
        "    # stays: the fragments are the visitor's, and on a miss the site still strips",
        "    # and expires what the visitor refuses (a response that sets a cookie is not",
        "    # stored).",
        '    set req.http.X-Consent-Other-Cookies = regsuball("; " + req.http.Cookie,',
        f'        {{"; *({cookies})=[^;]*"}}, "");',
        '    if (req.http.X-Consent-Other-Cookies ~ "^[; ]*$") {',
        "        unset req.http.X-Consent-Other-Cookies;",
        "        return (hash);",
        "    }",
        "    unset req.http.X-Consent-Other-Cookies;",
        "}",
        "",
        "sub consent_backend_response {",
    ]
    if esi:
        lines += [
            '    if (beresp.http.Surrogate-Control ~ "ESI/1.0") {',
            "        unset beresp.http.Surrogate-Control;",
            "        set beresp.do_esi = true;",
            "    }",
        ]
    lines += [
        "    # A response that sets a cookie is one visitor's: never stored (as in Varnish's",
        "    # built-in VCL, which a site's own vcl_backend_response may skip).",
        "    if (beresp.http.Set-Cookie) {",
        "        set beresp.ttl = 120s;",
        "        set beresp.uncacheable = true;",
        "        return (deliver);",
        "    }",
        "    # A page looked up in the cache was asked for with only cookies that do not",
        "    # change it (a signed-in reader's session goes to the site's own rules): the",
        "    # stored page is everyone's, whatever Vary: Cookie the site's session said.",
        "    if (!bereq.uncacheable && beresp.http.Vary) {",
        "        set beresp.http.Vary = regsuball(beresp.http.Vary,",
        '            {"(?i)(^|,)\\s*cookie\\s*(?=,|$)"}, "");',
        '        set beresp.http.Vary = regsub(beresp.http.Vary, {"^\\s*,\\s*"}, "");',
        '        if (beresp.http.Vary == "") {',
        "            unset beresp.http.Vary;",
        "        }",
        "    }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def _accept_language_lines(settings: ConsentSettings) -> list[str]:
    """``Accept-Language`` made the one locale the page is in: its first the site has.

    A tag matches a locale by its code, a code's prefix (``de-CH``, ``zh-Hant-TW``)
    or another name browsers give it (``zh-TW``: ``LOCALE_ALIASES``). The longest
    names are tried first, so that ``zh-tw`` is not read as ``zh``.
    """
    codes = settings.available_locales
    known = {code.lower() for code in codes}
    aliases = {
        alias: code
        for alias, code in LOCALE_ALIASES.items()
        if code in codes and alias not in known
    }
    names = sorted(known | set(aliases), key=lambda name: (-len(name), name))
    alternatives = "|".join(re.escape(name) for name in names)
    lines = [
        "    # The page's banner is in the visitor's language (Vary: Accept-Language): one",
        "    # variant per language the site has, the first the visitor names.",
        "    if (req.http.Accept-Language ~",
        f'        {{"(?i)(^|,)\\s*({alternatives})([-;,\\s]|$)"}}) {{',
        "        set req.http.Accept-Language = regsub(req.http.Accept-Language,",
        f'            {{"(?i)^.*?(?:^|,)\\s*({alternatives})(?:[-;,\\s].*)?$"}}, "\\1");',
    ]
    if aliases:
        lines.append("        # Other names browsers give a language: the site's code for it.")
    for code in sorted(set(aliases.values())):
        spellings = [code.lower(), *sorted(alias for alias in aliases if aliases[alias] == code)]
        pattern = "|".join(re.escape(spelling) for spelling in spellings)
        lines += [
            "        set req.http.Accept-Language = regsub(req.http.Accept-Language,",
            f'            {{"(?i)^({pattern})$"}}, "{code}");',
        ]
    lines += [
        "    } else {",
        f'        set req.http.Accept-Language = "{settings.default_locale}";',
        "    }",
    ]
    return lines
