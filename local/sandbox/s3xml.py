"""The S3 Control API's XML as the sandbox reads and writes it (restXml: namespaced tags,
lists of `<member>` elements, maps of `<entry>` elements)."""

import xml.etree.ElementTree as ET
from typing import Any


def strip(tag: str) -> str:
    return tag.split("}", 1)[-1]


def to_dict(elem: ET.Element) -> Any:
    children = list(elem)
    if not children:
        return elem.text or ""
    out: dict = {}
    for c in children:
        key = strip(c.tag)
        value = to_dict(c)
        if key in out:
            if not isinstance(out[key], list):
                out[key] = [out[key]]
            out[key].append(value)
        else:
            out[key] = value
    return out


def plain(elem: ET.Element) -> ET.Element:
    """A copy of `elem` with its tags' namespaces dropped."""
    out = ET.Element(strip(elem.tag))
    out.text = elem.text
    for child in elem:
        out.append(plain(child))
    return out


def members(value: Any) -> list:
    """An XML list (`<Fields><member>..</member></Fields>`) as a Python list."""
    if not value:
        return []
    m = value.get("member", []) if isinstance(value, dict) else value
    return m if isinstance(m, list) else [m]


def xml_map(value: Any) -> dict:
    """An XML map (`<M><entry><key>k</key><value>v</value></entry>...</M>`) as a dict."""
    if not value:
        return {}
    entries = value.get("entry", []) if isinstance(value, dict) else []
    return {e["key"]: e.get("value", "") for e in (entries if isinstance(entries, list) else [entries])}


def el(parent: ET.Element, tag: str, text: Any = None) -> ET.Element:
    e = ET.SubElement(parent, tag)
    if text is not None:
        e.text = str(text)
    return e
