# The customer portal.
portal-nav-label = Your account
portal-signed-in = Signed in as { $name } with { $company }
portal-invoices = Invoices
portal-history = Payment history
portal-cards = Cards and autopay
portal-sign-out = Sign out
portal-your-invoices = Your invoices — { $company }
portal-unavailable = Your invoices cannot be shown online right now
portal-unavailable-call = Call { $company } at { $phone } to see or pay your invoices. Your payment history and saved cards are still here.
portal-unavailable-contact = Contact { $company } to see or pay your invoices. Your payment history and saved cards are still here.

portal-sign-in-title = Sign in to your customer portal
portal-sign-in-heading = Sign in to your customer portal
portal-sign-in-heading-company = Sign in to your { $company } customer portal
portal-with-password = With your password
portal-email = Email
portal-password = Password
portal-sign-in = Sign in
portal-link-heading = No password? Email me a sign-in link
portal-link-email = The email your invoices come to
portal-link-button = Email me a sign-in link
portal-wrong-password = That email and password do not match a portal account.
portal-link-sent = If that email is on file, a sign-in link is on its way. It works once, for 20 minutes.
portal-link-enter-email = Enter the email address your invoices come to.
portal-too-many-sign-ins = Too many sign-in attempts. Wait a minute and try again.
portal-link-title = Sign in
portal-link-once = This link signs you in once. Press the button to continue.

portal-invite-title = Set your password — { $company }
portal-invite-heading = Set your customer portal password
portal-invite-you = You will sign in with { $email } and the password you choose here.
portal-invite-password = Password (at least 10 characters)
portal-invite-confirm = The same password again
portal-invite-button = Set password and sign in
portal-invite-mismatch = The password and its confirmation differ.
portal-invite-not-saved = The password could not be saved. Try again.
portal-invite-taken = Another account of this company already uses this email. Sign in with it, or call us to sort it out.

portal-history-title = Payment history — { $company }
portal-statement = Statement of open invoices (PDF)
portal-no-payments = No payments yet.
portal-payments = Payments
portal-col-date = Date
portal-col-invoices = Invoices
portal-col-paid-with = Paid with
portal-col-amount = Amount
portal-col-receipt = Receipt
portal-receipt-for = for { $amount } on { $date }
portal-cash = Cash
portal-check = Check
portal-check-number = Check { $number }
portal-status-refunded = Refunded
portal-status-partly-refunded = Partly refunded

portal-cards-title = Cards and autopay — { $company }
portal-saved-cards = Saved cards
portal-no-cards = No saved cards.
portal-card-default = default
portal-card-autopay = used for autopay
portal-make-default = Make default
portal-remove-card-link = Remove this card
portal-add-card = Add a card
portal-autopay = Autopay
portal-autopay-on-for = Autopay is on for { $card }. Invoices are charged to it when they are due.
portal-autopay-turn-off = Turn autopay off
portal-autopay-is-off = Autopay is off.
portal-autopay-card = Card for autopay
portal-autopay-turn-on = Turn autopay on
portal-autopay-add-card = To use autopay, add a card above, or pay an invoice and choose “Save this card and pay future invoices automatically”.
portal-card-removed = The card was removed.
portal-card-removed-autopay = The card was removed. Autopay used it, so autopay is now off.
portal-card-saved = Your card was saved.
portal-default-changed = Your default card was changed.
portal-autopay-now-off = Autopay is off. Future invoices will not be charged automatically.
portal-autopay-was-off = Autopay was already off.
portal-autopay-now-on = Autopay is on for { $card }. Invoices due from today on are charged to it when they are due.
portal-choose-on-off = Choose to turn autopay on or off.
portal-choose-card = Choose a card for autopay.

portal-add-card-title = Add a card — { $company }
portal-card-needs-js = Entering a card needs JavaScript turned on.
portal-card-needs-js-call = Entering a card needs JavaScript turned on, or call { $phone }.
portal-card-kept = The card is kept by the card processor for later payments; it is not charged now. Your card number never reaches { $company }.
portal-save-card = Save card

portal-remove-title = Remove a card — { $company }
portal-remove-heading = Remove { $card }?
portal-remove-text = The card is removed from your account and cannot be used again unless you enter it again.
portal-remove-autopay = Autopay uses this card: autopay turns off.
portal-remove-autopay-more = Future invoices will not be charged automatically.
portal-remove-button = Remove the card
portal-keep = Keep it

# The sign-in and invitation emails (plain text).
portal-signin-email-subject = Your sign-in link for { $company }
portal-signin-email-body =
    Hello { $name },

    Use this link to sign in to your { $company } customer portal. It works once, for 20 minutes:

    { $url }

    If you did not ask for it, you can ignore this email.

    { $company }
portal-invite-email-subject = Your { $company } customer portal
portal-invite-email-body =
    Hello { $name },

    { $company } invites you to its customer portal, where you can see and pay your invoices, see your payment history and manage saved cards and autopay.

    Set your password here (the link works once, for 7 days):

    { $url }

    If you did not expect this email, you can ignore it.

    { $company }
