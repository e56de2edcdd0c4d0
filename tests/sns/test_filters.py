"""Filter policies through boto3: the grammar end to end, attribute and body scope."""

from __future__ import annotations

import json
from typing import Any

from tests.sns.conftest import new_queue, receive_all


def subscribed_queue(sns: Any, sqs: Any, topic_arn: str, policy: object, scope: str) -> str:
    url, arn = new_queue(sqs)
    sns.subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=arn,
        Attributes={"FilterPolicy": json.dumps(policy), "FilterPolicyScope": scope,
                    "RawMessageDelivery": "true"},
    )  # fmt: skip
    return url


def string(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}


def number(value: str) -> dict[str, str]:
    return {"DataType": "Number", "StringValue": value}


def test_attribute_scope(sns: Any, sqs: Any, topic_arn: str) -> None:
    policy = {
        "store": [{"prefix": "east-"}, {"equals-ignore-case": "HQ"}],
        "price": [{"numeric": [">", 0, "<=", 100]}],
        "tier": [{"anything-but": ["free"]}],
        "ip": [{"cidr": "10.0.0.0/8"}],
        "$or": [{"tags": ["urgent"]}, {"beta": [{"exists": False}]}],
    }
    url = subscribed_queue(sns, sqs, topic_arn, policy, "MessageAttributes")
    base = {"store": string("east-1"), "price": number("42.5"), "tier": string("pro"),
            "ip": string("10.1.2.3")}  # fmt: skip
    cases = {
        "match": base,
        "match-hq": {**base, "store": string("hq")},
        "match-array": {**base, "beta": string("1"),
                        "tags": {"DataType": "String.Array", "StringValue": '["x", "urgent"]'}},
        "no-prefix": {**base, "store": string("west-1")},
        "no-price": {**base, "price": number("100.01")},
        "price-as-string": {**base, "price": string("42")},
        "free": {**base, "tier": string("free")},
        "outside": {**base, "ip": string("192.168.0.1")},
        "beta-untagged": {**base, "beta": string("1")},
    }  # fmt: skip
    for body, attributes in cases.items():
        sns.publish(TopicArn=topic_arn, Message=body, MessageAttributes=attributes)
    got = sorted(m["Body"] for m in receive_all(sqs, url, 3))
    assert got == ["match", "match-array", "match-hq"]


def test_body_scope(sns: Any, sqs: Any, topic_arn: str) -> None:
    policy = {"order": {"kind": ["book"], "total": [{"numeric": [">=", 10]}]},
              "customer": {"vip": [True]}}  # fmt: skip
    url = subscribed_queue(sns, sqs, topic_arn, policy, "MessageBody")
    bodies = [
        {"order": {"kind": "book", "total": 12}, "customer": {"vip": True}},
        {"order": {"kind": "book", "total": 9}, "customer": {"vip": True}},
        {"order": {"kind": "pen", "total": 12}, "customer": {"vip": True}},
        {"order": {"kind": ["pen", "book"], "total": 50}, "customer": {"vip": True}},
        {"order": {"kind": "book", "total": 12}},
    ]
    for body in bodies:
        sns.publish(TopicArn=topic_arn, Message=json.dumps(body))
    sns.publish(TopicArn=topic_arn, Message="not json")
    got = [json.loads(m["Body"]) for m in receive_all(sqs, url, 2)]
    assert sorted(json.dumps(g, sort_keys=True) for g in got) == sorted(
        json.dumps(b, sort_keys=True) for b in (bodies[0], bodies[3])
    )


def test_changing_the_policy_and_its_scope(sns: Any, sqs: Any, topic_arn: str) -> None:
    url, arn = new_queue(sqs)
    subscription = sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn,
                                 Attributes={"RawMessageDelivery": "true"})["SubscriptionArn"]  # fmt: skip
    sns.set_subscription_attributes(SubscriptionArn=subscription, AttributeName="FilterPolicy",
                                    AttributeValue='{"k": ["v"]}')  # fmt: skip
    sns.publish(TopicArn=topic_arn, Message='{"k": "v"}')
    sns.publish(TopicArn=topic_arn, Message="attr", MessageAttributes={"k": string("v")})
    sns.set_subscription_attributes(SubscriptionArn=subscription,
                                    AttributeName="FilterPolicyScope", AttributeValue="MessageBody")  # fmt: skip
    sns.publish(TopicArn=topic_arn, Message='{"k": "v"}')
    sns.publish(TopicArn=topic_arn, Message="attr again", MessageAttributes={"k": string("v")})
    assert sorted(m["Body"] for m in receive_all(sqs, url, 2)) == ["attr", '{"k": "v"}']
    attributes = sns.get_subscription_attributes(SubscriptionArn=subscription)["Attributes"]
    assert json.loads(attributes["FilterPolicy"]) == {"k": ["v"]}
    assert attributes["FilterPolicyScope"] == "MessageBody"
