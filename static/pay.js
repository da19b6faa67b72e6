// The quick payment page: live total, select all, autopay consent; card
// tokenization is card.js, so the card number never reaches our server.
(function () {
  "use strict";
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
  var fmt = new Intl.NumberFormat("en-US", { style: "currency", currency: (total.dataset.currency || "usd").toUpperCase() });
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
      button.textContent = n === 0 ? "Select an invoice to pay" : "Pay " + money(sum);
    }
    consent.hidden = checked("plan") !== "autopay";
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
    if (checked("plan") === "autopay" && !consentBox.checked) {
      e.preventDefault();
      fail("To use autopay, tick the box to authorize future charges, or choose \u201cPay this time only\u201d.", "autopay-consent");
      return;
    }
    busy = true;
    button.disabled = true;
    button.textContent = "Processing\u2026";
    cardError.textContent = "";
    if (method() !== "new_card") return;
    e.preventDefault();
    window.fieldpayTokenize().then(function (id) {
      document.getElementById("card_token").value = id;
      form.submit();
    }, function (err) { fail(err.message, err.field); });
  });

  refresh();
})();
