/* consent: cache_mode "shared". Every visitor gets the same cached page, with the banner.
   This script, first in <head>, reads the visitor's choice from the consent cookie and marks
   the document before it renders, so that a visitor who has decided never sees the banner;
   consent.js then applies the choice. The server checks the cookie's signature on every
   request it sees: what this reads only decides what the page shows. */
(function (script) {
  var config = JSON.parse(script.getAttribute("data-consent-state"));
  var root = document.documentElement;
  var gpc = navigator.globalPrivacyControl === true;
  if (gpc) root.setAttribute("data-consent-gpc-signal", "");
  var value = null;
  var pairs = document.cookie.split(";");
  for (var i = 0; i < pairs.length; i++) {
    var pair = pairs[i];
    var at = pair.indexOf("=");
    if (at >= 0 && pair.slice(0, at).trim() === config.cookie) {
      value = pair.slice(at + 1).trim();
      break;
    }
  }
  /* 1.<consent id>.<revision>.<how>.<granted>.<time>.<signature>; how: a, r or s.
     2.<consent id>.<revision>.<how>.<granted>.<services>.<time>.<signature>: services
     allowed one by one, as bits over the site's list of them after its fingerprint. */
  var parts = value ? value.split(".") : [];
  var version = parts.length === 7 ? "1" : parts.length === 8 ? "2" : "";
  var keys;
  var alone = [];
  if (version && parts[0] === version && parts[2] === String(config.revision)) {
    keys = parts[4] ? parts[4].split("~") : [];
    var bits = version === "2" ? parts[5] : "";
    if (bits.slice(0, 4) === config.fingerprint) {
      try {
        var bytes = atob(bits.slice(4).replace(/-/g, "+").replace(/_/g, "/"));
        for (var b = 0; b < config.services.length; b++) {
          if (b >> 3 < bytes.length && (bytes.charCodeAt(b >> 3) >> (b & 7)) & 1) alone.push(config.services[b]);
        }
      } catch (error) {
        alone = [];
      }
    }
  } else if (config.optout && gpc) {
    /* Where no consent comes first, the signal is the visitor's opt-out: no notice. */
    keys = config.categories;
  } else {
    return;
  }
  var granted = ["necessary"];
  for (var j = 0; j < keys.length; j++) {
    var key = keys[j];
    if (config.categories.indexOf(key) < 0) continue;
    /* As on the server: GPC opts out of these unless they were chosen one by one. */
    if (gpc && parts[3] !== "s" && config.gpc.indexOf(key) >= 0) continue;
    granted.push(key);
  }
  /* Services: those of the granted categories, and those allowed alone. */
  for (var k = 0; k < config.services.length; k++) {
    var service = config.services[k];
    if (granted.indexOf(config.categoryOf[service]) >= 0 || alone.indexOf(service) >= 0) granted.push(service);
  }
  root.setAttribute("data-consent-decided", "");
  root.setAttribute("data-consent-granted", granted.join(" "));
})(document.currentScript);
