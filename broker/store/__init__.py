"""Storage: the only package that imports SQLAlchemy/SQLModel. Tables are Alembic's target metadata."""
