"""JSON shapes of the API's answers (the OpenAPI document is built from these)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query

from pydantic import BaseModel


# Ids the database can hold (32-bit signed on every backend).
MAX_ID = 2**31 - 1
Id = Annotated[int, Path(ge=0, le=MAX_ID)]
QueryId = Annotated[int, Query(ge=0, le=MAX_ID)]


class Message(BaseModel):
    message: str


class TokenReply(BaseModel):
    access_token: str
    token_type: str
    expires_in: int


class SoundOut(BaseModel):
    id: int
    client_id: int
    title: str
    dealer_id: int | None
    filename: str


class ExtensionOut(BaseModel):
    id: int
    client_id: int
    name: str
    type: str
    status: str
    label: str
    domain: str
    create_date: str
    caller_id_name: str | None
    ani_rfc3325: bool
    did_as_transfer_caller_id: str | None
    dial_rule_id: int | None
    dial_rule_limit: int | None
    extension_group_id: int | None
    message_did: str | None
    extra_params: str | None


class IvrOut(BaseModel):
    entry_context: int
    sleep_time: int
    lifetime: int
    lifetime_exp_action: str
    lifetime_exp_transfer_dst: str | None
    vm_enabled: bool
    vm_greeting: int | None
    vm_mailto: str | None
    vm_attach_file: bool


class ContextOut(BaseModel):
    id: int
    name: str
    description: str | None
    timeout: int
    inter_digit_timeout: int
    digit_len: int
    allow_any_dial: bool
    extra_params: str | None


class OptionOut(BaseModel):
    digits: str


RuleOut = dict[str, Any]


class Order(BaseModel):
    order: list[int]


class RatingOut(BaseModel):
    id: int
    call_uuid: str
    datetime: str
    extension_id: int
    client_id: int
    max_rate: int
    rate: int


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": Message, "description": text}
    for status, text in {
        400: "invalid input; the message names the field",
        401: "no, unknown or expired token",
        404: "Record not found",
        413: "upload larger than 10 MB",
        429: "too many requests",
    }.items()
}
