// Office pages: small helpers (copy a link).
