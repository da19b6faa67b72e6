-- A few words the office adds to one message when it sends it ("We come
-- Tuesday; pay when convenient."), kept beside the message and shown above
-- the template's text when it is rendered for delivery.
CREATE TABLE message_notes (
    message_id TEXT PRIMARY KEY REFERENCES outbox(id),
    company_id TEXT NOT NULL REFERENCES companies(id),
    note TEXT NOT NULL
);
