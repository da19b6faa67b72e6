-- Which processor account an attempt and its payment went to, so each is
-- reconciled with that account whatever the company's setting is later.
ALTER TABLE payment_attempts ADD COLUMN processor_kind TEXT;
ALTER TABLE payment_attempts ADD COLUMN processor_account TEXT;
-- The processor's own id of the charge being made (a Stripe PaymentIntent),
-- written before the charge is confirmed: an attempt without one was never
-- confirmed, so it cannot have charged the card.
ALTER TABLE payment_attempts ADD COLUMN processor_ref TEXT;
ALTER TABLE payments ADD COLUMN processor_kind TEXT;
ALTER TABLE payments ADD COLUMN processor_account TEXT;
