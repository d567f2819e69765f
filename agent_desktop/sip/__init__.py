"""SIP room: messages, transports, transactions, dialogs, SDP, RTP. Imports nothing else of ours."""

from .call import Call
from .endpoint import EndpointConfig, EndpointStats, SipEndpoint
from .rtp import RtpStats, RtpStream

__all__ = ["Call", "EndpointConfig", "EndpointStats", "RtpStats", "RtpStream", "SipEndpoint"]
