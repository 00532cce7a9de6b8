/* Stand-in for a third-party advertising tag (think a social network's pixel).
 * It only runs once the visitor has granted "marketing". */
(function () {
  "use strict";
  var demo = (window.__consentDemo = window.__consentDemo || {});
  demo.adsRuns = (demo.adsRuns || 0) + 1;

  if (!/(?:^|;\s*)_fbp=/.test(document.cookie)) {
    var browserId = "fb.1." + Date.now() + "." + Math.floor(Math.random() * 2147483647);
    document.cookie = "_fbp=" + browserId + "; path=/; max-age=" + 90 * 24 * 60 * 60 + "; samesite=lax";
  }

  var slots = document.querySelectorAll("[data-ad-slot]");
  for (var i = 0; i < slots.length; i++) {
    var slot = slots[i];
    if (slot.getAttribute("data-ad-filled") === "true") continue;
    var headline = document.createElement("strong");
    headline.textContent = "Harbourton Courier: the whole city, every morning.";
    var offer = document.createElement("span");
    offer.textContent = " Subscribe to the print edition: first month free.";
    slot.appendChild(headline);
    slot.appendChild(offer);
    slot.setAttribute("data-ad-filled", "true");
  }
})();
