// Card entry with the built-in sandbox processor: the number and CVC go to
// the processor's tokens endpoint only; the form posts the token.
(function () {
  "use strict";
  // The page's words in its language (set by the server on <body>).
  function say(key, fallback) {
    try {
      var words = JSON.parse(document.body.getAttribute("data-words") || "{}");
      return Object.prototype.hasOwnProperty.call(words, key) && words[key] || fallback;
    } catch (e) { return fallback; }
  }
  function val(id) { var el = document.getElementById(id); return el ? el.value : ""; }

  // The card's brand from its first digits, as the card networks assign them.
  function brandOf(d) {
    if (/^3[47]/.test(d)) return "Amex";
    if (/^4/.test(d)) return "Visa";
    var four = parseInt(d.slice(0, 4), 10);
    if (/^5[1-5]/.test(d) || (d.length >= 4 && four >= 2221 && four <= 2720)) return "Mastercard";
    if (/^(6011|65|64[4-9]|622)/.test(d)) return "Discover";
    return "";
  }

  // The number in groups as printed on the card (Amex 4-6-5, others fours),
  // the caret kept after the same digit; the brand shown beside it.
  var numberEl = document.getElementById("cc-number");
  var brandEl = document.getElementById("cc-brand");
  function formatNumber() {
    var caret = numberEl.selectionStart || 0;
    var before = numberEl.value.slice(0, caret).replace(/\D/g, "").length;
    var d = numberEl.value.replace(/\D/g, "").slice(0, 19);
    var brand = brandOf(d);
    var out;
    if (brand === "Amex") {
      d = d.slice(0, 15);
      out = [d.slice(0, 4), d.slice(4, 10), d.slice(10)].filter(Boolean).join(" ");
    } else {
      out = d.replace(/(\d{4})(?=\d)/g, "$1 ");
    }
    if (out !== numberEl.value) {
      numberEl.value = out;
      var at = 0, seen = 0;
      while (at < out.length && seen < before) { if (/\d/.test(out[at])) seen++; at++; }
      if (document.activeElement === numberEl) numberEl.setSelectionRange(at, at);
    }
    if (brandEl) brandEl.textContent = brand;
  }
  if (numberEl) numberEl.addEventListener("input", formatNumber);

  // The expiry as MM / YY while it is typed: "4" becomes "04 / ".
  var expEl = document.getElementById("cc-exp");
  if (expEl) expEl.addEventListener("input", function (e) {
    var d = expEl.value.replace(/\D/g, "").slice(0, 4);
    if (/^[2-9]$/.test(d)) d = "0" + d;
    var deleting = e.inputType && e.inputType.indexOf("delete") === 0;
    var out = d.length > 2 ? d.slice(0, 2) + " / " + d.slice(2)
      : d.length === 2 && !deleting ? d + " / " : d;
    if (out !== expEl.value) expEl.value = out;
  });

  // Resolves to a token id, or rejects with {message, field}.
  window.fieldpayTokenize = function () {
    var number = val("cc-number").replace(/\D/g, "");
    var exp = val("cc-exp").replace(/[^\d\/]/g, "").split("/");
    if (exp.length === 1 && exp[0].length >= 4) exp = [exp[0].slice(0, 2), exp[0].slice(2)];
    var cvc = val("cc-cvc").trim();
    var zip = val("cc-zip").trim();
    if (number.length < 12) return Promise.reject({ message: say("number", "Enter the card number."), field: "cc-number" });
    if (exp.length !== 2 || !exp[0] || !exp[1]) return Promise.reject({ message: say("expiry", "Enter the expiry date as MM/YY."), field: "cc-exp" });
    if (!/^\d{3,4}$/.test(cvc)) return Promise.reject({ message: say("cvc", "Enter the 3 or 4 digit security code."), field: "cc-cvc" });
    var body = { number: number, exp_month: parseInt(exp[0], 10), exp_year: parseInt(exp[1], 10), cvc: cvc };
    if (zip) body.postal_code = zip;
    return fetch("/sandbox/v1/tokens", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok) {
          var f = { number: "cc-number", exp_month: "cc-exp", exp_year: "cc-exp", cvc: "cc-cvc", postal_code: "cc-zip" };
          // The page's own words for the refusal, by its code; the
          // processor's message where the page has none.
          var e = j.error || {};
          throw { message: say(e.code, e.message || say("unreadable", "The card could not be read.")), field: f[e.field] };
        }
        // The number and CVC stay in the browser: the inputs carry no name.
        document.getElementById("cc-number").value = "";
        document.getElementById("cc-cvc").value = "";
        return j.id;
      });
    }, function () { throw { message: say("unreachable", "We could not reach the card processor. Check your connection and try again.") }; });
  };

  // The sandbox's stand-in for the bank's check (3-D Secure): the test card
  // 4000 0027 6000 3184 asks for it. Completing it charges the card; then the
  // form is posted back to confirm the attempt.
  var auth = document.getElementById("authenticate");
  var authButton = document.getElementById("sandbox-authenticate");
  var payForm = document.getElementById("pay-form");
  if (auth && authButton && payForm) {
    authButton.addEventListener("click", function () {
      authButton.disabled = true;
      var charge = (auth.dataset.clientSecret || "").replace(/_secret_.*$/, "");
      var confirmAttempt = function () {
        document.getElementById("confirm_attempt").value = auth.dataset.attemptId;
        payForm.submit();
      };
      fetch("/sandbox/v1/authenticate/" + encodeURIComponent(charge), { method: "POST" }).then(confirmAttempt, confirmAttempt);
    });
  }

  // A form that only saves a card: <form data-card-form> with a hidden card_token.
  var form = document.querySelector("form[data-card-form]");
  if (!form) return;
  var button = form.querySelector("button[type=submit]");
  var error = document.getElementById("card-error");
  var busy = false;
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    if (busy) return;
    busy = true;
    button.disabled = true;
    error.textContent = "";
    window.fieldpayTokenize().then(function (id) {
      form.querySelector("input[name=card_token]").value = id;
      form.submit();
    }, function (err) {
      busy = false;
      button.disabled = false;
      error.textContent = err.message;
      if (err.field) document.getElementById(err.field).focus();
    });
  });
})();
