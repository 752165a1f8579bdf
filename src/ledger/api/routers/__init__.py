"""One router per resource (STYLE: FastAPI template)."""
