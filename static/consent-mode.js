/* consent: Google Consent Mode v2 defaults, before any other tag on the page. */
(function (script) {
  var state = JSON.parse(script.getAttribute("data-consent-mode"));
  window.dataLayer = window.dataLayer || [];
  window.gtag = window.gtag || function () { window.dataLayer.push(arguments); };
  window.gtag("consent", "default", state["default"]);
  if (state.update) window.gtag("consent", "update", state.update);
})(document.currentScript);
