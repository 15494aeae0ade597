"""Staff-facing parts of the gateway (operator desk now; the staff console later)."""
