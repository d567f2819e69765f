"""The eID room: login challenge, Web eID token verification (signature, chain, dates, OCSP), PKCS#11 token
access, the localhost eID bridge, and identity (national number as a keyed hash, never in clear)."""
