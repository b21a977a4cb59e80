"""Data drift monitoring for the default-risk model."""
