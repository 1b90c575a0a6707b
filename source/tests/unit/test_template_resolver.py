# SPDX-License-Identifier: Apache-2.0
"""The one intrinsic resolver: a deployed stack's template in full, or a template before any stack exists."""

from __future__ import annotations

from local.template_resolver import StackContext, resolve_template

TEMPLATE = {
    "Parameters": {"KmsKeyArn": {"Type": "String", "Default": ""}, "Size": {"Type": "String", "Default": "small"}},
    "Mappings": {"Instances": {"small": {"Type": "ml.m5.large"}}},
    "Conditions": {"Encrypted": {"Fn::Not": [{"Fn::Equals": [{"Ref": "KmsKeyArn"}, ""]}]}},
    "Resources": {
        "Key": {
            "Type": "AWS::KMS::Alias",
            "Condition": "Encrypted",
            "Properties": {"TargetKeyId": {"Ref": "KmsKeyArn"}},
        },
        "Endpoint": {
            "Type": "AWS::SageMaker::EndpointConfig",
            "Properties": {
                "KmsKeyId": {"Fn::If": ["Encrypted", {"Ref": "KmsKeyArn"}, {"Ref": "AWS::NoValue"}]},
                "InstanceType": {"Fn::FindInMap": ["Instances", {"Ref": "Size"}, "Type"]},
                "ModelName": {"Fn::GetAtt": ["Model", "ModelName"]},
                "Name": {"Fn::Join": ["-", [{"Ref": "AWS::StackName"}, "config"]]},
                "Arn": {"Fn::Join": ["", ["endpoint/", {"Fn::GetAtt": ["Endpoint", "EndpointName"]}]]},
            },
        },
    },
    "Outputs": {"Config": {"Value": {"Ref": "Endpoint"}}},
}


def _context(parameters: dict[str, str], **options) -> StackContext:
    return StackContext(TEMPLATE, parameters, "stack", "stack-id", "us-east-1", "123456789012", **options)


def test_before_any_stack_conditions_decide_and_references_to_resources_stay():
    resolved = resolve_template(_context({}, keep_references=True))
    assert resolved["Conditions"] == {"Encrypted": False}
    assert set(resolved["Resources"]) == {"Endpoint"}
    assert resolved["Resources"]["Endpoint"]["Properties"] == {
        "InstanceType": "ml.m5.large",
        "ModelName": {"Fn::GetAtt": ["Model", "ModelName"]},
        "Name": "stack-config",
        "Arn": {"Fn::Join": ["", ["endpoint/", {"Fn::GetAtt": ["Endpoint", "EndpointName"]}]]},
    }
    assert resolved["Outputs"] == {"Config": {"Ref": "Endpoint"}}


def test_a_deployed_stack_resolves_its_resources_by_their_physical_ids():
    key = "arn:aws:kms:us-east-1:123456789012:key/1"
    context = _context({"KmsKeyArn": key}, physical_ids={"Model": "model-1", "Endpoint": "config-1"})
    resolved = resolve_template(context)
    assert set(resolved["Resources"]) == {"Key", "Endpoint"}
    properties = resolved["Resources"]["Endpoint"]["Properties"]
    assert properties["KmsKeyId"] == key and properties["ModelName"] == "model-1"
    assert properties["Arn"] == "endpoint/config-1"
    assert resolved["Outputs"] == {"Config": "config-1"}
