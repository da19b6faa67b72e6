//! Messaging: sms.
