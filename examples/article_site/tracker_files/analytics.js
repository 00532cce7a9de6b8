/* Stand-in for a third-party analytics tag (think Google Analytics).
 * It only runs once the visitor has granted "analytics": the page ships it as
 * <script type="text/plain" data-consent-category="analytics">. */
(function () {
  "use strict";
  var demo = (window.__consentDemo = window.__consentDemo || {});
  demo.analyticsRuns = (demo.analyticsRuns || 0) + 1;

  // Like the real tag, keep an existing visitor ID rather than minting a new one.
  var existing = document.cookie.match(/(?:^|;\s*)_ga=([^;]+)/);
  var visitorId = existing
    ? existing[1]
    : "GA1.1." + Math.floor(Math.random() * 2147483647) + "." + Math.floor(Date.now() / 1000);
  document.cookie = "_ga=" + visitorId + "; path=/; max-age=" + 395 * 24 * 60 * 60 + "; samesite=lax";

  console.log("[demo analytics] page view recorded:", location.pathname, visitorId);
})();
