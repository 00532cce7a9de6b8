# A site's VCL with consent in front of it (cache_mode "esi" or "shared").
# consent.vcl is what `consent vcl` prints for the site's settings; the lines
# marked "consent" are all a site adds to its own VCL.
vcl 4.1;

include "consent.vcl";  # consent

backend default {
    .host = "127.0.0.1";
    .port = "8000";
}

sub vcl_recv {
    call consent_recv;  # consent
    # The site's own rules follow: a logged-in visitor's session cookie, say, is
    # left in the request and Varnish's built-in VCL passes it to the site.
}

sub vcl_backend_response {
    call consent_backend_response;  # consent
    # Pages the site marks cacheable (Cache-Control: public, s-maxage=...) are kept
    # that long; the built-in VCL does the rest.
}
