// Card entry for a company that takes cards through Stripe: the card fields
// are Stripe.js's own Element (an iframe from js.stripe.com), so the number
// and CVC go only to Stripe; the form posts the PaymentMethod id (pm_…).
(function () {
  "use strict";
  // The page's words in its language (set by the server on <body>).
  function say(key, fallback) {
    try { return JSON.parse(document.body.getAttribute("data-words") || "{}")[key] || fallback; } catch (e) { return fallback; }
  }
  var mount = document.getElementById("stripe-card");
  if (!mount) return;
  var unavailable = { message: say("unavailable", "Card entry is not available right now. Please try again later or call us to pay by phone.") };
  var stripe = null, card = null;
  if (window.Stripe && mount.dataset.publishableKey) {
    // Stripe's card field speaks the page's language.
    stripe = window.Stripe(mount.dataset.publishableKey, { locale: document.documentElement.lang || "auto" });
    card = stripe.elements().create("card", { hidePostalCode: false });
    card.mount(mount);
  }

  // Resolves to a PaymentMethod id, or rejects with {message}.
  window.fieldpayTokenize = function () {
    if (!stripe || !card) return Promise.reject(unavailable);
    return stripe.createPaymentMethod({ type: "card", card: card }).then(function (r) {
      if (r.error) throw { message: r.error.message || say("unreadable", "The card could not be read.") };
      return r.paymentMethod.id;
    }, function () { throw { message: say("unreachable", "We could not reach the card processor. Check your connection and try again.") }; });
  };

  // The bank asked the customer to authenticate (3-D Secure): complete it
  // with Stripe.js, then post the form back to confirm the attempt (a failed
  // or abandoned check is confirmed too, so the invoices are freed).
  var auth = document.getElementById("authenticate");
  var payForm = document.getElementById("pay-form");
  if (auth && payForm && auth.dataset.clientSecret) {
    var status = document.getElementById("authenticate-status");
    var confirmAttempt = function () {
      document.getElementById("confirm_attempt").value = auth.dataset.attemptId;
      if (status) status.textContent = say("finishing", "Finishing your payment\u2026");
      payForm.submit();
    };
    if (!stripe) {
      if (status) status.textContent = unavailable.message;
    } else {
      stripe.handleNextAction({ clientSecret: auth.dataset.clientSecret }).then(confirmAttempt, confirmAttempt);
    }
  }

  // A form that only saves a card: <form data-card-form> with a hidden card_token.
  var form = document.querySelector("form[data-card-form]");
  if (!form) return;
  var button = form.querySelector("button[type=submit]");
  var error = document.getElementById("card-error");
  var busy = false;
  form.addEventListener("submit", function (e) {
    // A form with other ways to pay (the office's cash or check) only reads
    // the card when the card is chosen: <form data-card-method="card">.
    var want = form.dataset.cardMethod;
    if (want) {
      var chosen = form.querySelector("input[name=method]:checked");
      if (!chosen || chosen.value !== want) return;
    }
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
    });
  });
})();
