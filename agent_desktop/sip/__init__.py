"""SIP room: messages, transports, transactions, dialogs, SDP, RTP. Imports nothing else of ours."""
