"""Packaging beyond what pyproject.toml can say: the migrations, kept in migrations/ at the top
of the repository (where developers' `alembic` finds them), ship inside the package as
app/_migrations, so `vafa migrate` works from an installed wheel in any directory."""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["app", "app.*"]),
        "app._migrations",
        "app._migrations.versions",
    ],
    package_dir={"app._migrations": "migrations"},
    package_data={"app._migrations": ["script.py.mako"]},
)
