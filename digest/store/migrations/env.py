"""Alembic environment: run migrations on the connection Digest hands over."""

from alembic import context
from sqlalchemy import create_engine

from digest.store.schema import metadata

target_metadata = metadata
connection = context.config.attributes.get("connection")
if connection is None:  # `alembic` run by hand: take the URL from -x url=...
    url = context.get_x_argument(as_dictionary=True).get("url", "sqlite:///var/digest.db")
    with create_engine(url).connect() as connection:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
