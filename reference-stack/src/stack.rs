//! Many connections behind one driver-facing API.
