# SPDX-License-Identifier: Apache-2.0
"""The VPC and network isolation of a blueprint's containers, from the SubnetIds / SecurityGroupIds /
EnableNetworkIsolation parameters: each property is left out entirely when its parameter is empty or False,
so a template deployed without VPC settings creates exactly what it created before.

The execution role of the containers gets the EC2 actions SageMaker (or CodeBuild) needs to attach
network interfaces in the subnets, in a policy that exists only when a VPC is set.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aws_cdk import Aws, CfnCondition, Fn, Stack, Token
from aws_cdk import aws_iam as iam

from infrastructure.checkov import skip_checks
from infrastructure.nag import acknowledge
from lambdas.pipeline_orchestration.catalogue import parameters as P

# No resource-level permissions: the Describe actions read the account's network, and a network interface
# permission is deleted by its own id (SageMaker's and CodeBuild's documented VPC permissions list these).
DESCRIBE_ACTIONS = (
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
)
UNSCOPED_REASON = (
    "ec2:Describe* (DhcpOptions, NetworkInterfaces, SecurityGroups, Subnets, Vpcs) and "
    "ec2:DeleteNetworkInterfacePermission have no resource-level permissions; the policy exists only with a VPC"
)
CODEBUILD = "codebuild.amazonaws.com"


def _ec2_arns(resource: str, parameter: str) -> dict[str, Any]:
    prefix = f"arn:*:ec2:*:*:{resource}/"
    return {"Fn::Join": ["", [prefix, {"Fn::Join": [f",{prefix}", {"Fn::Split": [",", {"Ref": parameter}]}]}]]}


# How cdk-nag names the resources of CreateNetworkInterface: the interfaces, then each subnet and security group.
_INTERFACE = {
    "Fn::Join": [
        "",
        [
            "arn:",
            {"Ref": "AWS::Partition"},
            ":ec2:",
            {"Ref": "AWS::Region"},
            ":",
            {"Ref": "AWS::AccountId"},
            ":network-interface/*",
        ],
    ]
}
CREATE_RESOURCES_FINDING = (
    "AwsSolutions-IAM5[Resource::"
    + json.dumps(
        {
            "Fn::Split": [
                ",",
                {
                    "Fn::Join": [
                        ",",
                        [
                            _INTERFACE,
                            _ec2_arns("subnet", P.SUBNET_IDS.name),
                            _ec2_arns("security-group", P.SECURITY_GROUP_IDS.name),
                        ],
                    ]
                },
            ]
        },
        separators=(",", ":"),
    )
    + "]"
)


@dataclass
class Network:
    """The network parameters of one blueprint and the conditions on them."""

    stack: Stack
    subnets: str
    groups: str
    vpc: CfnCondition
    isolation_parameter: str | None  # the EnableNetworkIsolation Ref, if the blueprint declares it

    def vpc_config(self, subnets_key: str = "Subnets", **extra: Any) -> Any:
        """The VpcConfig property (SageMaker's shape; CodeBuild names the subnets the same), or none at all."""
        return Fn.condition_if(
            self.vpc.logical_id,
            {
                "SecurityGroupIds": Fn.split(",", self.groups),
                subnets_key: Fn.split(",", self.subnets),
                **extra,
            },
            Aws.NO_VALUE,
        )

    def isolation(self) -> Any:
        """EnableNetworkIsolation: true, or no property at all."""
        assert self.isolation_parameter is not None, "the blueprint declares no EnableNetworkIsolation"
        # Declared on first use: a blueprint that hands the switch to a Lambda needs no condition.
        isolated = self.stack.node.try_find_child("NetworkIsolated") or CfnCondition(
            self.stack, "NetworkIsolated", expression=Fn.condition_equals(self.isolation_parameter, "True")
        )
        assert isinstance(isolated, CfnCondition)
        return Fn.condition_if(isolated.logical_id, True, Aws.NO_VALUE)

    def arn_text(self, resource: str, ids: str) -> str:
        """The EC2 ARNs of comma-separated ids, comma-separated: subnet/<id> for each subnet.

        CloudFormation has no map over a list, but joining the split ids with ",<prefix>" puts the prefix before
        each; a join's delimiter must be a literal, so partition, region and account are wildcards. Subnet and
        security group ids are unique across accounts and regions: the id alone pins the resource."""
        prefix = f"arn:*:ec2:*:*:{resource}/"
        return Fn.join("", [prefix, Fn.join(f",{prefix}", Fn.split(",", ids))])

    def arns(self, resource: str, ids: str) -> list[str]:
        return Token.as_list(Fn.split(",", self.arn_text(resource, ids)))

    def grant(self, role: iam.IRole, construct_id: str, service: str = "") -> iam.CfnPolicy:
        """The EC2 actions that attach the containers' network interfaces, only when a VPC is set.

        `service` (codebuild.amazonaws.com) limits the interface permission to that service, as CodeBuild's
        documented policy does."""
        interface = f"arn:{Aws.PARTITION}:ec2:{Aws.REGION}:{Aws.ACCOUNT_ID}:network-interface/*"
        in_subnets: dict[str, Any] = {"ArnLike": {"ec2:Subnet": self.arns("subnet", self.subnets)}}
        permission = dict(in_subnets)
        if service:
            permission["StringEquals"] = {"ec2:AuthorizedService": service}
        # SageMaker's documented list has DeleteNetworkInterfacePermission as well; CodeBuild's has not.
        unscoped = [*DESCRIBE_ACTIONS] if service else [*DESCRIBE_ACTIONS, "ec2:DeleteNetworkInterfacePermission"]
        statements = [
            {
                "Sid": "CreateInterfacesInTheSubnets",
                "Effect": "Allow",
                "Action": "ec2:CreateNetworkInterface",
                "Resource": Fn.split(
                    ",",
                    Fn.join(
                        ",",
                        [
                            interface,
                            self.arn_text("subnet", self.subnets),
                            self.arn_text("security-group", self.groups),
                        ],
                    ),
                ),
            },
            {
                "Sid": "LetTheServiceUseThem",
                "Effect": "Allow",
                "Action": "ec2:CreateNetworkInterfacePermission",
                "Resource": interface,
                "Condition": permission,
            },
            {
                "Sid": "DeleteThem",
                "Effect": "Allow",
                "Action": "ec2:DeleteNetworkInterface",
                "Resource": interface,
                "Condition": in_subnets,
            },
            {"Sid": "ReadTheNetwork", "Effect": "Allow", "Action": unscoped, "Resource": "*"},
        ]
        policy = iam.CfnPolicy(
            self.stack,
            construct_id,
            policy_name=construct_id,
            roles=[role.role_name],
            policy_document={"Version": "2012-10-17", "Statement": statements},
        )
        policy.cfn_options.condition = self.vpc
        skip_checks(
            policy,
            (
                "CKV_AWS_109",
                "The network interface permissions SageMaker and CodeBuild need in a VPC: creating one is limited "
                "to interfaces in the given subnets; deleting one has no resource-level permissions",
            ),
        )
        acknowledge(
            policy,
            ("AwsSolutions-IAM5[Resource::*]", UNSCOPED_REASON),
            (
                CREATE_RESOURCES_FINDING,
                "New network interfaces (named by EC2 when created) in the given subnets with the given security "
                "groups only; partition, region and account are wildcards of the per-id ARNs, whose ids are unique",
            ),
            (
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:"
                "network-interface/*]",
                "The service names each network interface when it creates it; only interfaces in the given "
                "subnets (ec2:Subnet) may be used or deleted",
            ),
        )
        return policy


def declare_network(stack: Stack, p: dict[str, Any]) -> Network:
    """The conditions on the blueprint's network parameters (Ref tokens or CfnParameters, by name)."""

    def value(name: str) -> str:
        parameter = p[name]
        return parameter if isinstance(parameter, str) else parameter.value_as_string

    subnets, groups = value(P.SUBNET_IDS.name), value(P.SECURITY_GROUP_IDS.name)
    vpc = CfnCondition(stack, "VpcGiven", expression=Fn.condition_not(Fn.condition_equals(subnets, "")))
    isolation = value(P.ENABLE_NETWORK_ISOLATION.name) if P.ENABLE_NETWORK_ISOLATION.name in p else None
    return Network(stack, subnets, groups, vpc, isolation)
