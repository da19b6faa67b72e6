// Card entry with the built-in sandbox processor: the number and CVC go to
// the processor's tokens endpoint only; the form posts the token.
(function () {
  "use strict";
  function val(id) { var el = document.getElementById(id); return el ? el.value : ""; }

  // Resolves to a token id, or rejects with {message, field}.
  window.fieldpayTokenize = function () {
    var number = val("cc-number").replace(/\D/g, "");
    var exp = val("cc-exp").replace(/[^\d\/]/g, "").split("/");
    if (exp.length === 1 && exp[0].length >= 4) exp = [exp[0].slice(0, 2), exp[0].slice(2)];
    var cvc = val("cc-cvc").trim();
    var zip = val("cc-zip").trim();
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
        // The number and CVC stay in the browser: the inputs carry no name.
        document.getElementById("cc-number").value = "";
        document.getElementById("cc-cvc").value = "";
        return j.id;
      });
    }, function () { throw { message: "We could not reach the card processor. Check your connection and try again." }; });
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
