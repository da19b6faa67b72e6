//! Autopay: scheduled charges of saved cards, retries, notices.
