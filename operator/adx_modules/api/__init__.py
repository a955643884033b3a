"""The API contract: pydantic models of the custom resources, conditions and reasons."""
