"""Packaging beyond what pyproject.toml can say: the migrations, kept in migrations/ at the top
of the repository (where developers' `alembic` finds them), ship inside the package as
app/_migrations, so `vafa migrate` works from an installed wheel in any directory."""

from setuptools import find_namespace_packages, setup

setup(
    packages=[
        *find_namespace_packages(include=["app", "app.*"]),  # as pyproject's find did
        "app._migrations",
        "app._migrations.versions",
    ],
    package_dir={"app._migrations": "migrations"},
    package_data={"app._migrations": ["script.py.mako"], "app.widget": ["static/*.js"]},
)
