"""Media room: one aiortc peer per agent session, bridged to SIP RTP legs."""
