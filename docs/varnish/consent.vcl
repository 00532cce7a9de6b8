# consent: Varnish in front of a site in cache_mode 'esi'.
# Made by `consent vcl` from the site's settings. Include this file, then call
# each subroutine first in its namesake:
#
#   include "consent.vcl";
#   sub vcl_recv { call consent_recv; }
#   sub vcl_backend_response { call consent_backend_response; }

sub consent_recv {
    # The middleware includes ESI fragments only for a cache that says it reads them.
    unset req.http.Surrogate-Capability;
    set req.http.Surrogate-Capability = {"varnish="ESI/1.0""};
    # The banner's files: the same for everyone, with a hash in their names.
    if (req.url ~ "^/_consent/static/") {
        unset req.http.Cookie;
        return (hash);
    }
    # Decisions, the preferences page and the fragments: one visitor's each.
    if (req.url ~ "^(/_consent(/|\?|$)|/\.well-known/gpc\.json)") {
        return (pass);
    }
    if ((req.method != "GET" && req.method != "HEAD") || req.http.Authorization) {
        return;
    }
    # The consent cookie and the cookies of the consent categories (and those of
    # `consent vcl --ignore`) do not change the page: with no other cookie, it is
    # looked up in the cache. The Cookie header
    # stays: the fragments are the visitor's, and on a miss the site still strips
    # and expires what the visitor refuses (a response that sets a cookie is not
    # stored).
    set req.http.X-Consent-Other-Cookies = regsuball("; " + req.http.Cookie,
        {"; *(consent|site_analytics|_ga|_ga_[^;=\s]*|_gid|_fbp|_gcl_au|IDE|SERVERID)=[^;]*"}, "");
    if (req.http.X-Consent-Other-Cookies ~ "^[; ]*$") {
        unset req.http.X-Consent-Other-Cookies;
        return (hash);
    }
    unset req.http.X-Consent-Other-Cookies;
}

sub consent_backend_response {
    if (beresp.http.Surrogate-Control ~ "ESI/1.0") {
        unset beresp.http.Surrogate-Control;
        set beresp.do_esi = true;
    }
    # A response that sets a cookie is one visitor's: never stored (as in Varnish's
    # built-in VCL, which a site's own vcl_backend_response may skip).
    if (beresp.http.Set-Cookie) {
        set beresp.ttl = 120s;
        set beresp.uncacheable = true;
        return (deliver);
    }
    # A page looked up in the cache was asked for with only cookies that do not
    # change it (a signed-in reader's session goes to the site's own rules): the
    # stored page is everyone's, whatever Vary: Cookie the site's session said.
    if (!bereq.uncacheable && beresp.http.Vary) {
        set beresp.http.Vary = regsuball(beresp.http.Vary,
            {"(?i)(^|,)\s*cookie\s*(?=,|$)"}, "");
        set beresp.http.Vary = regsub(beresp.http.Vary, {"^\s*,\s*"}, "");
        if (beresp.http.Vary == "") {
            unset beresp.http.Vary;
        }
    }
}
