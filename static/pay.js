// Every customer page: the company's accent colour. The quick payment page:
// live total, select all, autopay consent; card tokenization is card.js, so
// the card number never reaches our server.
(function () {
  "use strict";
  // The company's accent colour (checked for contrast when saved): set here,
  // as the page's policy allows no inline styles.
  var accent = document.documentElement.getAttribute("data-accent");
  if (accent && /^#[0-9a-fA-F]{6}$/.test(accent)) document.documentElement.style.setProperty("--accent", accent);
  // The page's words in its language (set by the server on <body>).
  var words = {};
  try { words = JSON.parse(document.body.getAttribute("data-words") || "{}"); } catch (e) { words = {}; }
  window.fieldpayWords = words;
  function w(key, fallback) { return words[key] || fallback; }
  var form = document.getElementById("pay-form");
  if (!form) return;
  document.documentElement.className += " js";
  var boxes = Array.prototype.slice.call(form.querySelectorAll('input[name="invoice_ids"]'));
  var all = document.getElementById("select-all");
  var total = document.getElementById("total");
  var button = document.getElementById("pay-button");
  var why = document.getElementById("nothing-selected");
  var consent = document.getElementById("consent");
  var consentBox = document.getElementById("autopay-consent");
  var fields = document.getElementById("card-fields");
  var cardError = document.getElementById("card-error");
  var fmt = new Intl.NumberFormat(document.documentElement.lang === "es" ? "es-US" : "en-US", { style: "currency", currency: (total.dataset.currency || "usd").toUpperCase() });
  var minorDigits = fmt.resolvedOptions().maximumFractionDigits;
  var busy = false;

  function money(minor) { return fmt.format(minor / Math.pow(10, minorDigits)); }
  function checked(name) { var el = form.querySelector('input[name="' + name + '"]:checked'); return el ? el.value : null; }
  function method() { return checked("payment_method") || (form.querySelector('input[name="payment_method"]') || {}).value; }

  function refresh() {
    var sum = 0, n = 0;
    boxes.forEach(function (b) { if (b.checked) { sum += parseInt(b.dataset.balance, 10); n++; } });
    total.textContent = money(sum);
    all.checked = n === boxes.length;
    all.indeterminate = n > 0 && n < boxes.length;
    why.hidden = n > 0;
    if (!busy) {
      button.disabled = n === 0;
      button.textContent = n === 0 ? w("select", "Select an invoice to pay") : w("pay", "Pay {amount}").replace("{amount}", money(sum));
    }
    if (consent) consent.hidden = checked("plan") !== "autopay";
    fields.hidden = method() !== "new_card";
  }

  all.addEventListener("change", function () { boxes.forEach(function (b) { b.checked = all.checked; }); refresh(); });
  form.addEventListener("change", refresh);

  function fail(message, focusId) {
    busy = false;
    cardError.textContent = message;
    button.disabled = false;
    refresh();
    if (focusId) document.getElementById(focusId).focus();
  }

  form.addEventListener("submit", function (e) {
    if (busy) { e.preventDefault(); return; }
    if (consentBox && checked("plan") === "autopay" && !consentBox.checked) {
      e.preventDefault();
      fail(w("consent", "To use autopay, tick the box to authorize future charges, or choose \u201cPay this time only\u201d."), "autopay-consent");
      return;
    }
    busy = true;
    button.disabled = true;
    button.textContent = w("processing", "Processing\u2026");
    cardError.textContent = "";
    if (method() !== "new_card") return;
    e.preventDefault();
    window.fieldpayTokenize().then(function (id) {
      document.getElementById("card_token").value = id;
      keep();
      form.submit();
    }, function (err) { fail(err.message, err.field); });
  });

  // A decline comes back as a new page: the expiry and ZIP (never the
  // number or CVC) are kept in this tab so the payer need not type them again.
  var KEPT = ["cc-exp", "cc-zip"];
  function keep() {
    try {
      var v = {};
      KEPT.forEach(function (id) { var el = document.getElementById(id); if (el) v[id] = el.value; });
      sessionStorage.setItem("fieldpay-card", JSON.stringify(v));
    } catch (e) { /* storage off: nothing kept */ }
  }
  try {
    var kept = JSON.parse(sessionStorage.getItem("fieldpay-card") || "null");
    sessionStorage.removeItem("fieldpay-card");
    if (kept && cardError.textContent.trim()) {
      KEPT.forEach(function (id) { var el = document.getElementById(id); if (el && !el.value && kept[id]) el.value = kept[id]; });
    }
  } catch (e) { /* storage off */ }

  refresh();

  // A page that comes back with a card error (a decline) opens at it: the
  // message in view and the focus in the card number, which it describes.
  if (cardError.textContent.trim() && !fields.hidden) {
    var number = document.getElementById("cc-number");
    fields.scrollIntoView({ block: "center" });
    if (number) number.focus({ preventScroll: true });
  }
})();
