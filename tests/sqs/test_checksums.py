"""MD5OfMessageBody and MD5OfMessageAttributes against values SQS itself returns."""

from __future__ import annotations

from ems.sqs.checksums import AttributeValue, md5_of_attributes, md5_of_body


def test_the_body_digest_is_the_md5_of_the_utf8_body() -> None:
    assert md5_of_body("derp") == "58fd9edd83341c29f1aebba81c31e257"


def test_the_attribute_digest_matches_sqs() -> None:
    # SQS's answer to MessageBody "derp" with this one Number attribute
    attributes = {"SOME_Valid.attribute-Name": AttributeValue("Number", string="1493147359900")}
    assert md5_of_attributes(attributes) == "36655e7e9d7c0e8479fa3f3f42247ae7"


def test_the_attribute_digest_sorts_names_and_marks_binary_values() -> None:
    a = AttributeValue("String", string="x")
    b = AttributeValue("Binary", binary=b"x")
    assert md5_of_attributes({"a": a, "b": b}) == md5_of_attributes({"b": b, "a": a})
    assert md5_of_attributes({"a": a}) != md5_of_attributes(
        {"a": AttributeValue("Binary", binary=b"x")}
    )
