//! The Internet checksum (RFC 1071) and the TCP pseudo-headers (RFC 9293 3.1, RFC 8200 8.1).
