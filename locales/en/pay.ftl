# The quick payment page.
pay-title = Pay { $company }
pay-heading = Invoices for { $name }
pay-confirm-bank = Confirm with your bank
pay-authenticate = Your bank asks you to confirm this payment. Complete your bank's check to finish paying; nothing is charged until you do.
pay-opening-bank = Opening your bank's check…
pay-sandbox-authenticate = Complete the bank's check (test card)
pay-bank-needs-js = Your bank's check needs JavaScript turned on.
pay-bank-needs-js-call = Your bank's check needs JavaScript turned on, or call { $phone } to pay by phone.
pay-all-paid = You're all paid up. Thank you!
pay-turn-off-autopay = Turn off autopay
pay-change-autopay = Change or turn off autopay
pay-select-all = Select all
pay-group-due = Due now
pay-group-upcoming = Upcoming
pay-on-behalf = You are responsible for billing this property.
pay-invoice = Invoice { $number }
pay-issued = Issued { $date }
pay-overdue = Overdue by { $days ->
    [one] { $days } day
   *[other] { $days } days
} (was due { $date })
pay-due-today = Due today
pay-due-on = Due { $date }
pay-show-lines = Show lines
pay-col-service = Service
pay-col-qty = Qty
pay-col-amount = Amount
pay-invoice-total = Invoice total
pay-paid-so-far = Paid so far
pay-invoice-pdf = Invoice { $number } (PDF)
pay-statement-pdf = Statement of all open invoices (PDF)
pay-how = How to pay
pay-different-card = A different card
pay-once-or-autopay = Once or autopay
pay-autopay-once-note = This payment is made once; autopay goes on charging { $card } for invoices when they are due.
pay-this-time = Pay this time only
pay-save-autopay = Save this card and pay future invoices automatically (autopay)
pay-total-selected = Total selected:
pay-select-one = Select at least one invoice to pay.
pay-button-amount = Pay { $amount }
pay-button = Pay selected invoices
pay-fine = Secure payment for { $company }. Your card number goes only to the card processor.
pay-form-stale = This page was open too long or came from elsewhere. Check your selection and press Pay again.
pay-attempt-missing = That payment was not found. Check your selection and press Pay again.
pay-consent-needed = To use autopay, tick the box to authorize future charges, or choose “Pay this time only”.
pay-not-payable = An invoice you selected can no longer be paid (it was paid or changed). Check your selection and try again.
pay-unavailable = The card processor is not answering right now. Nothing was charged. Please try again in a moment.

# Autopay, as the page states it.
autopay-on-future = Autopay is on: { $card }. Future invoices are charged to it when they are due.
autopay-on-next = Autopay is on: { $card }; { $count ->
    [one] invoice
   *[other] invoices
} { $numbers }, { $amount }, will be charged on { $date }.
autopay-on-next-other = Autopay is on: { $card }; { $count ->
    [one] invoice
   *[other] invoices
} { $numbers }, { $amount }, will be charged to { $other } on { $date }.

# The receipt.
receipt-title = Receipt — { $company }
receipt-heading = Paid { $amount } — thank you
receipt-emailed = A receipt was emailed to you.
receipt-email-failed = The receipt email could not be sent; keep this page as your receipt.
receipt-email-coming = A receipt is on its way to your email.
receipt-no-email = No receipt was emailed: keep this page (or print it) as your receipt.
receipt-reference = Payment reference
receipt-card = Card
receipt-time = Time
receipt-col-invoice = Invoice
receipt-col-paid = Paid
receipt-col-due = Still due
receipt-autopay-on = Autopay is on for { $card }.
receipt-statement = Statement (PDF)

# Turning autopay off from a link.
autopay-title = Autopay — { $company }
autopay-heading = Autopay
autopay-off = Autopay is off
autopay-turned-off-text = Future invoices will not be charged automatically. You can pay them from your payment page when they arrive.
autopay-none-text = No card is charged automatically. You can pay your invoices from your payment page.
autopay-turn-off-question = Turn off autopay?
autopay-on-for = Autopay is on for { $card }. Invoices are charged to it when they are due.
autopay-off-explain = If you turn it off, future invoices are not charged automatically; you pay them yourself from your payment page. Your saved card stays on file.
autopay-form-stale = This page was open too long or came from elsewhere. Press the button again.
autopay-choose-card = Choose one of your saved cards for autopay.
autopay-card-expired = That card has expired. Choose another card.
autopay-tick-consent = To turn autopay on, tick the box to authorize future charges.
receipt-pdf = (PDF)
