"""Lesson content that is code: tables and examples a lesson builds with the tool modules and shows.

The tool modules (orm_tour, charts, explain, ...) never import from here."""
