# SPDX-License-Identifier: Apache-2.0
"""The VPC and network isolation of a blueprint's containers, from the SubnetIds / SecurityGroupIds /
EnableNetworkIsolation parameters: each property is left out entirely when its parameter is empty or False,
so a template deployed without VPC settings creates exactly what it created before.

The execution role of the containers gets the EC2 actions SageMaker (or CodeBuild) needs to attach
network interfaces in the subnets, in a policy that exists only when a VPC is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Aws, CfnCondition, Fn, Stack, Token
from aws_cdk import aws_iam as iam

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


@dataclass
class Network:
    """The network parameters of one blueprint and the conditions on them."""

    stack: Stack
    subnets: str
    groups: str
    vpc: CfnCondition
    isolated: CfnCondition | None

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
        assert self.isolated is not None, "the blueprint declares no EnableNetworkIsolation"
        return Fn.condition_if(self.isolated.logical_id, True, Aws.NO_VALUE)

    def arns(self, resource: str, ids: str) -> list[str]:
        """The EC2 ARNs of comma-separated ids, e.g. subnet/<id> for each subnet (CloudFormation has no map)."""
        prefix = f"arn:{Aws.PARTITION}:ec2:{Aws.REGION}:{Aws.ACCOUNT_ID}:{resource}/"
        return Token.as_list(Fn.split(",", Fn.join("", [prefix, Fn.join(f",{prefix}", Fn.split(",", ids))])))

    def grant(self, role: iam.IRole, construct_id: str, service: str = "") -> iam.CfnPolicy:
        """The EC2 actions that attach the containers' network interfaces, only when a VPC is set.

        `service` (codebuild.amazonaws.com) limits the interface permission to that service, as CodeBuild's
        documented policy does."""
        interface = f"arn:{Aws.PARTITION}:ec2:{Aws.REGION}:{Aws.ACCOUNT_ID}:network-interface/*"
        in_subnets: dict[str, Any] = {"ArnEquals": {"ec2:Subnet": self.arns("subnet", self.subnets)}}
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
                "Resource": [interface, *self.arns("subnet", self.subnets), *self.arns("security-group", self.groups)],
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
        acknowledge(
            policy,
            ("AwsSolutions-IAM5[Resource::*]", UNSCOPED_REASON),
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
    isolated = None
    if P.ENABLE_NETWORK_ISOLATION.name in p:
        isolated = CfnCondition(
            stack,
            "NetworkIsolated",
            expression=Fn.condition_equals(value(P.ENABLE_NETWORK_ISOLATION.name), "True"),
        )
    return Network(stack, subnets, groups, vpc, isolated)
