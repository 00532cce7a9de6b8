/* consent: the banner's enhancement, a module script. Every action also works without it, as plain forms. */
const root = document.querySelector("[data-consent-root]");
const config = JSON.parse(root?.dataset.consentConfig ?? "{}");
const words = (text) => (text ?? "").split(" ").filter(Boolean);
let granted = words(root?.dataset.consentGranted);
let dialog = null;
let opener = null;

/* Cookie globs come as regular expression sources, made by the server to read them as it does. */
const cookiePatterns = Object.entries(config.cookies ?? {}).flatMap(([key, sources]) =>
  sources.map((source) => [new RegExp(source, "u"), key])
);

/* The banner waits, hidden, for the stylesheet; a page without a CSP nonce gets it from
   here, so that no request of ours holds up the first paint. */
const banner = root?.querySelector("[data-consent-banner]");
let styled = Promise.resolve();
if (banner && config.stylesheet && getComputedStyle(banner).display === "none") {
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = config.stylesheet;
  styled = new Promise((done) => (link.onload = link.onerror = done));
  document.head.append(link);
}

const allows = (key) => key === "necessary" || granted.includes(key);
/* What the page grants, as a decision sends it: categories, and services allowed alone. */
const services = config.services ?? {};
const choice = (keys) => ({
  categories: keys.filter((key) => !(key in services) && key !== "necessary"),
  services: keys.filter((key) => key in services && !keys.includes(services[key])),
});
const fill = (text, key) => text.replace("{category}", config.titles[key] || key);
const here = () => location.pathname + location.search;
/* What the script adds speaks the banner's language, whatever the page's direction. */
const localize = (element) => {
  element.lang = config.locale;
  element.dir = config.dir;
};

/* Decisions: the forms' own fields, sent as JSON, answered with the new state. */
const decide = async (fields, form, submitter) => {
  try {
    const response = await fetch(config.endpoint, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ ...fields, next: here(), locale: config.locale }),
    });
    if (!response.ok) throw new Error(response.status);
    apply(await response.json());
  } catch {
    if (form) {
      form.setAttribute("data-consent-native", "");
      form.requestSubmit(submitter);
    }
  }
};

const submit = (event) => {
  const form = event.target;
  if (form.getAttribute("action") !== config.endpoint || form.hasAttribute("data-consent-native")) return;
  event.preventDefault();
  const { submitter } = event;
  const ticked = (name) => [...form.querySelectorAll(`input[name=${name}]:checked`)].map((box) => box.value);
  decide(
    {
      action: submitter?.value || "save",
      categories: ticked("categories"),
      services: ticked("services"),
      mechanism: form.querySelector("input[name=mechanism]")?.value ?? "banner",
    },
    form,
    submitter
  );
};

const apply = (state, announce = true) => {
  granted = [...state.granted, ...(state.services ?? [])];
  root.setAttribute("data-consent-granted", granted.join(" "));
  /* On a page's load, shown once styled: never a moment unstyled. */
  const show = () => {
    root.querySelector("[data-consent-banner]")?.remove();
    root.querySelector("[data-consent-settings]").hidden = false;
    root.querySelector("[data-consent-withdraw]").hidden = granted.length < 2;
  };
  if (announce) show();
  else styled.then(show);
  if (dialog?.open) dialog.close();
  if (announce) root.querySelector("[data-consent-status]").textContent = config.texts.saved;
  expireRefusedCookies();
  updateConsentMode();
  activate();
};

/* Gated content: live in document order, once, when its category is granted.
   Scripts are chained: each waits for the one before it, as parsed scripts do. */
let queue = Promise.resolve();
const activate = () => {
  for (const element of document.querySelectorAll("[data-consent-category]")) {
    const key = element.dataset.consentService || element.dataset.consentCategory;
    if (element.tagName === "SCRIPT") {
      if (element.type !== "text/plain" || !allows(key) || element.hasAttribute("data-consent-queued")) continue;
      element.setAttribute("data-consent-queued", "");
      queue = queue.then(() => run(element));
    } else if (element.hasAttribute("data-src") && !element.hasAttribute("src")) {
      if (!allows(key)) {
        placeholder(element, key);
        continue;
      }
      if (element.hasAttribute("data-srcset")) element.srcset = element.dataset.srcset;
      element.src = element.dataset.src;
      element.hidden = false;
      const shown = element.previousElementSibling;
      if (shown?.hasAttribute("data-consent-placeholder")) shown.remove();
    }
  }
};

const run = (element) =>
  new Promise((done) => {
    const script = document.createElement("script");
    for (const { name, value } of element.attributes) {
      if (name !== "type" && name !== "data-consent-queued") script.setAttribute(name, value);
    }
    if (element.dataset.type) script.type = element.dataset.type;
    if (element.nonce) script.nonce = element.nonce;
    script.text = element.text;
    const external = script.hasAttribute("src");
    if (external) script.onload = script.onerror = done;
    element.replaceWith(script);
    if (!external) done();
  });

const placeholder = (element, key) => {
  const previous = element.previousElementSibling;
  if (element.tagName !== "IFRAME" || previous?.hasAttribute("data-consent-placeholder")) return;
  const box = document.createElement("div");
  box.className = "consent-placeholder";
  box.setAttribute("data-consent-placeholder", key);
  localize(box);
  const text = document.createElement("p");
  text.textContent = fill(config.texts.blocked_content, key);
  const button = document.createElement("button");
  button.type = "button";
  button.className = "consent-button";
  button.textContent = fill(config.texts.allow_category, key);
  button.addEventListener("click", () =>
    decide({ action: "save", ...choice([...granted, key]), mechanism: "banner" })
  );
  box.append(text, button);
  element.hidden = true;
  element.before(box);
};

/* Withdrawal: cookies this script can see go now; the server expires the rest. */
const category = (name) => cookiePatterns.find(([pattern]) => pattern.test(name))?.[1];
const expireRefusedCookies = () => {
  const labels = location.hostname.split(".");
  for (const pair of document.cookie.split(";")) {
    const name = pair.split("=")[0].trim();
    const key = category(name);
    if (!key || allows(key)) continue;
    const expired = `${name}=; Max-Age=0; Path=/`;
    document.cookie = expired;
    for (let i = 0; i < labels.length - 1; i++) {
      document.cookie = `${expired}; Domain=${labels.slice(i).join(".")}`;
    }
  }
};

const updateConsentMode = () => {
  if (typeof window.gtag !== "function") return;
  const update = {};
  for (const [key, types] of Object.entries(config.google)) {
    for (const type of types) {
      update[type] = update[type] === "granted" || allows(key) ? "granted" : "denied";
    }
  }
  window.gtag("consent", "update", update);
};

/* Preferences: the page's own form, in a modal dialog. Closing it decides nothing. */
const openPreferences = async (event) => {
  const link = event.target.closest?.("[data-consent-action=preferences]");
  if (!link || typeof HTMLDialogElement !== "function") return;
  event.preventDefault();
  opener = link;
  try {
    const response = await fetch(`${config.preferences}?next=${encodeURIComponent(here())}`, {
      credentials: "same-origin",
    });
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const source = page.querySelector("[data-consent-preferences]");
    dialog?.remove();
    dialog = document.createElement("dialog");
    dialog.className = "consent-dialog";
    dialog.setAttribute("aria-label", config.texts.dialog_label);
    localize(dialog);
    const close = document.createElement("button");
    close.type = "button";
    close.className = "consent-dialog__close";
    close.textContent = config.texts.close;
    close.addEventListener("click", () => dialog.close());
    const content = document.createElement("div");
    content.className = "consent-preferences";
    for (const back of source.querySelectorAll("[data-consent-back]")) back.remove();
    content.append(...document.adoptNode(source).childNodes);
    dialog.append(close, content);
    dialog.addEventListener("keydown", trapFocus);
    dialog.addEventListener("close", () => {
      if (opener?.isConnected) opener.focus();
    });
    root.append(dialog);
    dialog.showModal();
  } catch {
    location.href = link.href;
  }
};

/* A modal keeps Tab inside it; the browser alone would move on to its own UI. */
const trapFocus = (event) => {
  if (event.key !== "Tab") return;
  const controls = dialog.querySelectorAll("button, input:not([disabled]), a[href]");
  const first = controls[0];
  const last = controls[controls.length - 1];
  if (document.activeElement === (event.shiftKey ? first : last)) {
    event.preventDefault();
    (event.shiftKey ? last : first).focus();
  }
};

/* A category's box stands for all its services: ticking one ticks them, and a service
   unticked leaves the category to the services still ticked. */
const linkBoxes = (event) => {
  const box = event.target;
  if (!box.form) return;
  if (box.name === "categories") {
    for (const service of box.form.querySelectorAll(`[data-consent-services="${box.value}"] input`)) {
      service.checked = box.checked;
    }
  } else if (box.name === "services" && !box.checked) {
    const group = box.closest("[data-consent-services]");
    const category = group && box.form.querySelector(`input[name=categories][value="${group.dataset.consentServices}"]`);
    if (category) category.checked = false;
  }
};

/* A page without the snippet's markup has nothing to enhance. */
if (root) {
  document.addEventListener("submit", submit);
  document.addEventListener("change", linkBoxes);
  document.addEventListener("click", openPreferences);
  const marked = document.documentElement;
  if (banner && marked.hasAttribute("data-consent-decided")) {
    /* cache_mode "shared": the choice consent-state.js read. */
    apply({ granted: words(marked.dataset.consentGranted) }, false);
  } else {
    activate();
  }
  /* "Cookie settings" last in the focus order, wherever a cache put it. */
  styled.then(() => {
    if (!root.querySelector("[data-consent-banner]") && root.parentElement === document.body) {
      document.body.append(root);
    }
  });
}
