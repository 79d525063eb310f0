"""The API's errors: a status and a `{"message": ...}` body, as the source API answers."""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def not_found() -> ApiError:
    return ApiError(404, "Record not found")


def bad(field: str, message: str) -> ApiError:
    return ApiError(400, f"{field}: {message}")
