"""Answers that already exist: match an incoming question to answered cases and articles
(`match`), and the one rule that says whether a reply may be sent without a person
(`guard`)."""
