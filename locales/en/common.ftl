# Dates, as customers read them. $day, $month and $year are filled in.
date-long = { $month } { $day }, { $year }
date-short = { $month } { $day }, { $year }
date-short-no-year = { $month } { $day }
date-time = { $date }, { $time }

month-long-1 = January
month-long-2 = February
month-long-3 = March
month-long-4 = April
month-long-5 = May
month-long-6 = June
month-long-7 = July
month-long-8 = August
month-long-9 = September
month-long-10 = October
month-long-11 = November
month-long-12 = December

month-short-1 = Jan
month-short-2 = Feb
month-short-3 = Mar
month-short-4 = Apr
month-short-5 = May
month-short-6 = Jun
month-short-7 = Jul
month-short-8 = Aug
month-short-9 = Sep
month-short-10 = Oct
month-short-11 = Nov
month-short-12 = Dec

# Every customer page.
site-name = fieldpay
test-mode-title = Test mode — no money moves.
test-mode-text = No card is charged on this page.
questions-call = Questions? Call
language-switch = Language
back-to-invoices = Back to your invoices
card-ending = { $brand } ending { $last4 }
card-ending-expires = { $brand } ending { $last4 }, expires { $expiry }

not-found-title = Page not found
not-found-text = This link does not open anything. If it came in a message about an invoice, it may have been replaced by a newer one: use the link in the most recent message, or call the company that sent it.
too-many-requests = Too many requests. Wait a minute and try again.
form-expired = This form has expired or did not come from this site. Go back, reload the page and try again.
signin-form-expired = This sign-in form has expired. The page was reloaded: sign in again.
server-error = Something went wrong on our side. Please try again in a moment.

# Card entry.
card-details = Card details
card-name = Name on card
card-number = Card number
card-expiry = Expiry (MM / YY)
card-expiry-placeholder = MM / YY
card-cvc = CVC
card-zip = ZIP code
card-label = Card
card-needs-js = Entering a new card needs JavaScript turned on.
card-needs-js-call = Entering a new card needs JavaScript turned on, or call { $phone } to pay by phone.
card-enter-details = Enter your card details. Card entry needs JavaScript turned on in your browser.

# What the page's scripts say.
js-select-invoice = Select an invoice to pay
js-pay-amount = Pay { $amount }
js-processing = Processing…
js-enter-number = Enter the card number.
js-enter-expiry = Enter the expiry date as MM/YY.
js-enter-cvc = Enter the 3 or 4 digit security code.
js-card-unreadable = The card could not be read.
js-processor-unreachable = We could not reach the card processor. Check your connection and try again.
js-card-unavailable = Card entry is not available right now. Please try again later or call us to pay by phone.
js-finishing = Finishing your payment…
js-card-incorrect-number = The card number is incorrect. Check it and try again.
js-card-expiry-month = The expiry month must be between 1 and 12.
js-card-expired = The card's expiry date is in the past. Check it or use another card.
js-card-cvc = The security code (CVC) must be 3 or 4 digits.
js-card-postal-code = The postal code is too long.
js-card-test-mode = This is a test page: no real card is charged. Use a test card number, such as 4242 4242 4242 4242.

# Declines, by the processor's code.
decline-insufficient-funds = The card has insufficient funds. Try another card or call your bank.
decline-expired-card = The card has expired. Check the expiry date or use another card.
decline-incorrect-cvc = The security code (CVC) is incorrect. Check it and try again.
decline-incorrect-number = The card number is incorrect. Check it and try again.
decline-processing-error = The card could not be processed. Please try again in a moment.
decline-authentication-required = Your bank asked to confirm this payment, and it was not confirmed. Nothing was charged. Try again and complete your bank's check, or use another card.
decline-generic = Your bank declined the card. Try another card or call your bank.

# The autopay authorization a customer accepts (stored as shown).
autopay-consent-call = I authorize { $company } to charge this card for invoices on my account when they are due, until I cancel. I can cancel at any time from this page or by calling { $phone }.
autopay-consent-contact = I authorize { $company } to charge this card for invoices on my account when they are due, until I cancel. I can cancel at any time from this page or by contacting { $company }.

# Messages (email and SMS) a customer receives.
message-pay-link = Click Here to Make Payment
message-test-mode = Test mode — no money moves
message-test-mode-sms = Test mode - no money moves.
