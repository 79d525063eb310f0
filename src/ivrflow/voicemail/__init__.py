"""Voicemail: the spool of recorded messages (`spool`) and the mailer that sends them (`mailer`)."""
