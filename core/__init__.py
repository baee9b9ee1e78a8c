"""Shared by the API, the workflows and the activities: settings, tables, naming rules."""
