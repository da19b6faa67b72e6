-- PostgreSQL keeps instants as timestamptz: nothing to rewrite.
SELECT 1;
