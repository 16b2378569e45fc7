//! Real-host harnesses (in progress).
