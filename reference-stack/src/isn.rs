//! RFC 6528 initial sequence numbers (RFC 9293 3.4.1, MUST-8, MUST-9, SHLD-1).
