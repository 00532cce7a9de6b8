/* consent: the banner's enhancement. Every action also works without it, as plain forms. */
(function () {
  "use strict";
  var root = document.querySelector("[data-consent-root]");
  if (!root) return;
  var config = JSON.parse(root.getAttribute("data-consent-config"));
  var granted = words(root.getAttribute("data-consent-granted"));
  var status = root.querySelector("[data-consent-status]");
  var dialog = null;
  var opener = null;

  function words(text) {
    return (text || "").split(" ").filter(Boolean);
  }
  function allows(key) {
    return key === "necessary" || granted.indexOf(key) >= 0;
  }
  function fill(text, key) {
    return text.replace("{category}", config.titles[key] || key);
  }
  function here() {
    return location.pathname + location.search;
  }

  /* Decisions: the forms' own fields, sent as JSON, answered with the new state. */
  function decide(fields, form, submitter) {
    fields.next = here();
    fields.locale = config.locale;
    return fetch(config.endpoint, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(fields),
    })
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.json();
      })
      .then(apply)
      .catch(function () {
        if (form) {
          form.setAttribute("data-consent-native", "");
          form.requestSubmit(submitter);
        }
      });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.getAttribute("action") !== config.endpoint || form.hasAttribute("data-consent-native")) return;
    event.preventDefault();
    var submitter = event.submitter;
    var categories = [];
    form.querySelectorAll("input[name=categories]:checked").forEach(function (box) {
      categories.push(box.value);
    });
    var mechanism = form.querySelector("input[name=mechanism]");
    decide(
      {
        action: submitter && submitter.value ? submitter.value : "save",
        categories: categories,
        mechanism: mechanism ? mechanism.value : "banner",
      },
      form,
      submitter
    );
  });

  function apply(state) {
    granted = state.granted;
    root.setAttribute("data-consent-granted", granted.join(" "));
    var banner = root.querySelector("[data-consent-banner]");
    if (banner) banner.remove();
    root.querySelector("[data-consent-settings]").hidden = false;
    root.querySelector("[data-consent-withdraw]").hidden = granted.length < 2;
    if (dialog && dialog.open) dialog.close();
    status.textContent = config.texts.saved;
    expireRefusedCookies();
    updateConsentMode();
    activate();
  }

  /* Gated content: live in document order, once, when its category is granted.
     Scripts are chained: each waits for the one before it, as parsed scripts do. */
  var queue = Promise.resolve();
  function activate() {
    document.querySelectorAll("[data-consent-category]").forEach(function (element) {
      var key = element.getAttribute("data-consent-category");
      if (element.tagName === "SCRIPT") {
        if (element.type !== "text/plain" || !allows(key) || element.hasAttribute("data-consent-queued")) return;
        element.setAttribute("data-consent-queued", "");
        queue = queue.then(function () {
          return run(element);
        });
      } else if (element.hasAttribute("data-src") && !element.hasAttribute("src")) {
        if (!allows(key)) return placeholder(element, key);
        if (element.hasAttribute("data-srcset")) element.srcset = element.getAttribute("data-srcset");
        element.src = element.getAttribute("data-src");
        element.hidden = false;
        var shown = element.previousElementSibling;
        if (shown && shown.hasAttribute("data-consent-placeholder")) shown.remove();
      }
    });
  }

  function run(element) {
    return new Promise(function (done) {
      var script = document.createElement("script");
      for (var i = 0; i < element.attributes.length; i++) {
        var attribute = element.attributes[i];
        if (attribute.name !== "type" && attribute.name !== "data-consent-queued") {
          script.setAttribute(attribute.name, attribute.value);
        }
      }
      var type = element.getAttribute("data-type");
      if (type) script.type = type;
      if (element.nonce) script.nonce = element.nonce;
      script.text = element.text;
      var external = script.hasAttribute("src");
      if (external) script.onload = script.onerror = done;
      element.replaceWith(script);
      if (!external) done();
    });
  }

  function placeholder(element, key) {
    if (element.tagName !== "IFRAME") return;
    var previous = element.previousElementSibling;
    if (previous && previous.hasAttribute("data-consent-placeholder")) return;
    var box = document.createElement("div");
    box.className = "consent-placeholder";
    box.setAttribute("data-consent-placeholder", key);
    var text = document.createElement("p");
    text.textContent = fill(config.texts.blocked_content, key);
    var button = document.createElement("button");
    button.type = "button";
    button.className = "consent-button";
    button.textContent = fill(config.texts.allow_category, key);
    button.addEventListener("click", function () {
      decide({ action: "save", categories: granted.concat([key]), mechanism: "banner" });
    });
    box.append(text, button);
    element.hidden = true;
    element.before(box);
  }

  /* Withdrawal: cookies this script can see go now; the server expires the rest. */
  function category(name) {
    for (var key in config.cookies) {
      for (var i = 0; i < config.cookies[key].length; i++) {
        var pattern = config.cookies[key][i].replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
        if (new RegExp("^" + pattern + "$").test(name)) return key;
      }
    }
    return null;
  }
  function expireRefusedCookies() {
    var labels = location.hostname.split(".");
    document.cookie.split(";").forEach(function (pair) {
      var name = pair.split("=")[0].trim();
      var key = category(name);
      if (!key || allows(key)) return;
      var expired = name + "=; Max-Age=0; Path=/";
      document.cookie = expired;
      for (var i = 0; i < labels.length - 1; i++) document.cookie = expired + "; Domain=" + labels.slice(i).join(".");
    });
  }

  function updateConsentMode() {
    if (typeof window.gtag !== "function") return;
    var update = {};
    for (var key in config.google) {
      config.google[key].forEach(function (type) {
        update[type] = update[type] === "granted" || allows(key) ? "granted" : "denied";
      });
    }
    window.gtag("consent", "update", update);
  }

  /* Preferences: the page's own form, in a modal dialog. Closing it decides nothing. */
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("[data-consent-action=preferences]");
    if (!link || typeof HTMLDialogElement !== "function") return;
    event.preventDefault();
    opener = link;
    fetch(config.preferences + "?next=" + encodeURIComponent(here()), { credentials: "same-origin" })
      .then(function (response) {
        return response.text();
      })
      .then(function (page) {
        var source = new DOMParser().parseFromString(page, "text/html").querySelector("[data-consent-preferences]");
        if (dialog) dialog.remove();
        dialog = document.createElement("dialog");
        dialog.className = "consent-dialog";
        dialog.setAttribute("aria-label", config.texts.dialog_label);
        dialog.setAttribute("lang", config.locale);
        var close = document.createElement("button");
        close.type = "button";
        close.className = "consent-dialog__close";
        close.textContent = config.texts.close;
        close.addEventListener("click", function () {
          dialog.close();
        });
        var content = document.createElement("div");
        content.className = "consent-preferences";
        source.querySelectorAll("[data-consent-back]").forEach(function (back) {
          back.remove();
        });
        content.append.apply(content, Array.prototype.slice.call(document.adoptNode(source).childNodes));
        dialog.append(close, content);
        dialog.addEventListener("keydown", trapFocus);
        dialog.addEventListener("close", function () {
          if (opener && opener.isConnected) opener.focus();
        });
        root.append(dialog);
        dialog.showModal();
      })
      .catch(function () {
        location.href = link.href;
      });
  });

  /* A modal keeps Tab inside it; the browser alone would move on to its own UI. */
  function trapFocus(event) {
    if (event.key !== "Tab") return;
    var controls = dialog.querySelectorAll("button, input:not([disabled]), a[href]");
    var first = controls[0];
    var last = controls[controls.length - 1];
    if (event.shiftKey ? document.activeElement === first : document.activeElement === last) {
      event.preventDefault();
      (event.shiftKey ? last : first).focus();
    }
  }

  activate();
})();
