// The quick payment page: live total, select all, autopay consent, and card
// tokenization at the processor so the card number never reaches our server.
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

  function tokenize() {
    var number = document.getElementById("cc-number").value.replace(/\D/g, "");
    var exp = document.getElementById("cc-exp").value.replace(/[^\d\/]/g, "").split("/");
    if (exp.length === 1 && exp[0].length >= 4) exp = [exp[0].slice(0, 2), exp[0].slice(2)];
    var cvc = document.getElementById("cc-cvc").value.trim();
    var zip = document.getElementById("cc-zip").value.trim();
    if (number.length < 12) return Promise.reject({ message: "Enter the card number.", field: "cc-number" });
    if (exp.length !== 2 || !exp[0] || !exp[1]) return Promise.reject({ message: "Enter the expiry date as MM/YY.", field: "cc-exp" });
    if (!/^\d{3,4}$/.test(cvc)) return Promise.reject({ message: "Enter the 3 or 4 digit security code.", field: "cc-cvc" });
    var body = { number: number, exp_month: parseInt(exp[0], 10), exp_year: parseInt(exp[1], 10), cvc: cvc };
    if (zip) body.postal_code = zip;
    return fetch("/sandbox/v1/tokens", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok) {
          var f = { number: "cc-number", exp_month: "cc-exp", exp_year: "cc-exp", cvc: "cc-cvc", postal_code: "cc-zip" };
          throw { message: (j.error && j.error.message) || "The card could not be read.", field: f[j.error && j.error.field] };
        }
        return j.id;
      });
    }, function () { throw { message: "We could not reach the card processor. Check your connection and try again." }; });
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
    tokenize().then(function (id) {
      document.getElementById("card_token").value = id;
      // The number and CVC stay in the browser: the fields carry no name.
      document.getElementById("cc-number").value = "";
      document.getElementById("cc-cvc").value = "";
      form.submit();
    }, function (err) { fail(err.message, err.field); });
  });

  refresh();
})();
