"""A form's fields checked by the same pydantic model the API uses, and its errors put beside
the fields they are about (a model-wide check names its field first: ``"value: …"``)."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def parse(
    model: type[M], form: dict[str, str], fields: tuple[str, ...]
) -> tuple[M | None, dict[str, str]]:
    """The model from the form's ``fields`` (an empty field is left out), or the errors by
    field (``""``: about the form as a whole)."""
    data: dict[str, Any] = {
        name: form[name].strip() for name in fields if form.get(name, "").strip()
    }
    try:
        return model.model_validate(data), {}
    except ValidationError as exc:
        return None, errors_of(exc)


def errors_of(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in exc.errors():
        loc = [str(p) for p in error["loc"]]
        message = str(error["msg"]).removeprefix("Value error, ")
        name = loc[0] if loc else ""
        if not name and ": " in message:  # "value: a percent_off reward's value is …"
            name, message = message.split(": ", 1)
        errors.setdefault(name, message)
    return errors
