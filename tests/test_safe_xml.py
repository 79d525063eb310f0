"""XML from outside: refused when unsafe, an error when not well-formed, and nothing left in a cycle."""

from __future__ import annotations

import gc
import types
from xml.etree.ElementTree import ParseError

import defusedxml
import pytest

from ivrflow import safe_xml


def test_well_formed_xml_is_parsed() -> None:
    assert [child.tag for child in safe_xml.parse(b"<Response><Hangup/></Response>")] == ["Hangup"]


def test_a_dtd_is_refused() -> None:
    with pytest.raises(defusedxml.DefusedXmlException):
        safe_xml.parse('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e "x">]><r>&e;</r>')


def _fails(text: str) -> bool:
    # No pytest.raises: its record of the exception would itself hold the frames.
    try:
        safe_xml.parse(text)
    except ParseError:
        return True
    return False


def test_a_parse_error_leaves_no_frame_for_the_cyclic_collector() -> None:
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        assert _fails("<Response><SetVar name='x'>unclosed") and _fails("not xml at all")
        gc.collect()
        frames = [o.f_code.co_name for o in gc.garbage if isinstance(o, types.FrameType)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert frames == []
