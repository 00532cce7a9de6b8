/* The example sites' own measurement script. Each article page ships it inert, as
 * <script type="text/plain" data-consent-category="analytics" src="/static/analytics.js">:
 * it runs only once the visitor allows analytics. Its runs are counted in
 * window.__analyticsRuns, where the tests look. A tag that names an endpoint in
 * data-collect (the FastAPI blog's /collect) also reports the page view there. */
(function () {
  "use strict";
  window.__analyticsRuns = (window.__analyticsRuns || 0) + 1;
  document.documentElement.dataset.analyticsRuns = String(window.__analyticsRuns);
  const collect = document.currentScript && document.currentScript.dataset.collect;
  if (collect) {
    fetch(collect, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ path: location.pathname }),
      keepalive: true,
    });
  }
})();
