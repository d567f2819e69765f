"""Agent Desktop: the web desk on which contact-centre agents take and make calls, log in with eID and wrap up."""
